/**
 * A tiny parser for the Python literals the seed dataset stores as text, such as
 * `[['CRANE', 'C(x) R(x) A(-) N(x) E(-)'], ['SWEAT', 'S(x) W(x) E(-) A(-) T(x)']]`.
 *
 * The course reads that column with `ast.literal_eval`. We must never evaluate data, so this is a
 * recursive-descent reader for exactly two forms: lists `[a, b, ...]` (a trailing comma is fine) and
 * string literals in single or double quotes with Python's backslash escapes. Anything else
 * (numbers, dicts, triple quotes, prefixes like r'' or b'') is rejected with the offset and what was
 * expected, because the dataset never contains it and guessing would hide corrupted rows.
 */

export type PyLiteral = string | PyLiteral[];

/** Single-character escapes Python recognises inside a normal (non-raw) string literal. */
const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/** Maximum list nesting; the dataset needs 2. Deep input would otherwise overflow the stack. */
const MAX_DEPTH = 64;

class LiteralReader {
  private pos = 0;

  constructor(private readonly text: string) {}

  fail(expected: string): never {
    const found =
      this.pos < this.text.length ? JSON.stringify(this.text.slice(this.pos, this.pos + 12)) : "end of text";
    throw new Error(`Python literal: expected ${expected} at offset ${this.pos}, found ${found}`);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /[ \t\r\n]/.test(this.text[this.pos])) this.pos++;
  }

  parseDocument(): PyLiteral {
    const value = this.parseValue(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail("end of text after the literal");
    return value;
  }

  parseValue(depth: number): PyLiteral {
    this.skipSpace();
    const ch = this.text[this.pos];
    if (ch === "[") return this.parseList(depth + 1);
    if (ch === "'" || ch === '"') return this.parseString(ch);
    return this.fail("a list '[' or a quoted string");
  }

  parseList(depth: number): PyLiteral[] {
    if (depth > MAX_DEPTH) this.fail(`at most ${MAX_DEPTH} nested lists`);
    this.pos++; // "["
    const items: PyLiteral[] = [];
    this.skipSpace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.parseValue(depth));
      this.skipSpace();
      const ch = this.text[this.pos];
      if (ch === "]") {
        this.pos++;
        return items;
      }
      if (ch !== ",") this.fail("',' or ']'");
      this.pos++;
      this.skipSpace();
      // Python allows one trailing comma: [a, b,]
      if (this.text[this.pos] === "]") {
        this.pos++;
        return items;
      }
    }
  }

  parseString(quote: string): string {
    this.pos++; // opening quote
    let out = "";
    for (;;) {
      if (this.pos >= this.text.length) this.fail(`closing ${quote}`);
      const ch = this.text[this.pos];
      if (ch === quote) {
        this.pos++;
        return out;
      }
      if (ch === "\n") this.fail(`closing ${quote} before the end of the line`);
      if (ch !== "\\") {
        out += ch;
        this.pos++;
        continue;
      }
      out += this.parseEscape();
    }
  }

  /** Reads one escape sequence starting at the backslash and returns the text it stands for. */
  parseEscape(): string {
    const next = this.text[this.pos + 1];
    if (next === undefined) this.fail("an escape sequence after '\\'");
    if (next in SIMPLE_ESCAPES) {
      this.pos += 2;
      return SIMPLE_ESCAPES[next];
    }
    if (next === "\n") {
      // A backslash-newline is a line continuation: it contributes nothing.
      this.pos += 2;
      return "";
    }
    const hexDigits = next === "x" ? 2 : next === "u" ? 4 : next === "U" ? 8 : 0;
    if (hexDigits > 0) {
      const hex = this.text.slice(this.pos + 2, this.pos + 2 + hexDigits);
      if (!new RegExp(`^[0-9a-fA-F]{${hexDigits}}$`).test(hex)) {
        this.pos += 2;
        this.fail(`${hexDigits} hex digits after \\${next}`);
      }
      const codePoint = Number.parseInt(hex, 16);
      if (codePoint > 0x10ffff) this.fail("a code point at most U+10FFFF");
      this.pos += 2 + hexDigits;
      return String.fromCodePoint(codePoint);
    }
    const octal = /^[0-7]{1,3}/.exec(this.text.slice(this.pos + 1, this.pos + 4));
    if (octal) {
      this.pos += 1 + octal[0].length;
      return String.fromCodePoint(Number.parseInt(octal[0], 8));
    }
    // Python keeps an unknown escape such as "\q" as the two characters (with a warning).
    this.pos += 2;
    return `\\${next}`;
  }
}

/** Parse a Python list/string literal. Throws an Error naming the offset of the first problem. */
export function parsePythonLiteral(text: string): PyLiteral {
  if (typeof text !== "string") throw new Error(`Python literal: expected a string, got ${typeof text}`);
  return new LiteralReader(text).parseDocument();
}
