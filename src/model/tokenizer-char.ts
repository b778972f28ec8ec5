/**
 * A character-level tokenizer.json, for the tiny model the package ships: every token is one
 * character, plus special tokens such as <|im_start|>, <|im_end|>, <|endoftext|>.
 *
 * It is a standard Hugging Face tokenizer file, so the shipped model loads in transformers too:
 * a BPE model with no merges (BPE first splits text into characters, and with nothing to merge
 * each character is a token), no normalizer or pre-tokenizer (spaces and newlines are ordinary
 * characters), and a Fuse decoder that concatenates the tokens back into the text.
 *
 * Ids: special tokens first in the order given, then the unknown token, then the characters in the
 * order given. A character outside the vocabulary encodes as the unknown token.
 */

export interface CharTokenizerOptions {
  /** Vocabulary entry for characters not in `chars`. Default "<|unk|>". */
  unkToken?: string;
}

/** The tokenizer.json object (write it with JSON.stringify). */
export function buildCharTokenizerJson(
  chars: Iterable<string>,
  specialTokens: readonly string[],
  options: CharTokenizerOptions = {},
): Record<string, unknown> {
  const unkToken = options.unkToken ?? "<|unk|>";
  const vocab: Record<string, number> = {};
  let nextId = 0;
  const add = (token: string, what: string) => {
    if (Object.hasOwn(vocab, token))
      throw new Error(`buildCharTokenizerJson: ${what} ${JSON.stringify(token)} appears twice`);
    vocab[token] = nextId++;
  };
  for (const token of specialTokens) {
    if (token.length === 0) throw new Error("buildCharTokenizerJson: a special token cannot be empty");
    add(token, "special token");
  }
  add(unkToken, "unknown token");
  for (const char of chars) {
    // One Unicode code point (BPE splits text by code point, so "🙂" is one character).
    if ([...char].length !== 1)
      throw new Error(`buildCharTokenizerJson: ${JSON.stringify(char)} is not a single character`);
    add(char, "character");
  }
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: "Fuse" },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: unkToken,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}
