/**
 * The tokenizer of a local Hugging Face model directory: `tokenizer.json` (the model, pre-tokenizer,
 * added tokens) and `tokenizer_config.json` (which tokens are bos/eos/pad, the chat template).
 *
 * The heavy lifting is done by @huggingface/tokenizers, a pure-TS port of the Rust `tokenizers`
 * crate; with the Qwen3 tokenizer it reproduces transformers' ids exactly (see
 * test/model-tokenizer.test.ts). This file adds what a trainer needs around it: the ids of the
 * special tokens resolved once, HF's defaults where the library differs, and clear errors.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";

export interface EncodeOptions {
  /** Run the post-processor's template (e.g. a BOS for Llama 3). Default false, as chat prompts carry their own. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (<|im_end|>, <|endoftext|>, ...) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

export interface SpecialToken {
  content: string;
  id: number;
}

export class TokenizerError extends Error {
  constructor(source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = "TokenizerError";
  }
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TokenizerError(path, `cannot read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(path, `not valid JSON: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw new TokenizerError(path, "expected a JSON object");
  return json as Record<string, unknown>;
}

/** tokenizer_config.json writes special tokens either as a string or as a serialized AddedToken. */
function tokenContent(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { content?: unknown }).content === "string")
    return (value as { content: string }).content;
  return null;
}

/** One id or a list of ids (config.json / generation_config.json spell eos either way). */
function idList(value: unknown): number[] {
  if (typeof value === "number" && Number.isInteger(value)) return [value];
  if (Array.isArray(value))
    return value.filter((v): v is number => typeof v === "number" && Number.isInteger(v));
  return [];
}

/**
 * The chat template: newer transformers save it as `chat_template.jinja`; older ones inline it in
 * tokenizer_config.json, either as a string or as a list of named templates ("default" is used).
 */
function findChatTemplate(dir: string, config: Record<string, unknown>): string | null {
  const file = join(dir, "chat_template.jinja");
  if (existsSync(file)) return readFileSync(file, "utf8");
  const template = config.chat_template;
  if (typeof template === "string") return template;
  if (Array.isArray(template)) {
    const named = template.find((t) => t && typeof t === "object" && t.name === "default");
    if (named && typeof named.template === "string") return named.template;
  }
  return null;
}

export class Tokenizer {
  /** The directory it was loaded from (for messages). */
  readonly source: string;
  /** Number of distinct tokens, added tokens included (transformers' `len(tokenizer)`). */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  /** The tokenizer's own end-of-sequence token (`eos_token` in tokenizer_config.json). */
  readonly eosTokenId: number;
  /**
   * Every id that ends a generation: `eos_token`, plus the `eos_token_id` list of
   * generation_config.json when the directory has one (instruct models often stop on two tokens).
   */
  readonly eosTokenIds: readonly number[];
  /** `pad_token`, or the eos token when the tokenizer has none (what TRL does). */
  readonly padTokenId: number;
  /** Added tokens flagged special, in id order. */
  readonly specialTokens: readonly SpecialToken[];
  readonly specialTokenIds: ReadonlySet<number>;
  /** The Jinja chat template, or null when the model ships none. */
  readonly chatTemplate: string | null;
  /** bos_token, eos_token, pad_token, unk_token as strings: the variables chat templates may use. */
  readonly specialTokensMap: Readonly<Record<string, string>>;

  private readonly impl: HfTokenizer;
  private readonly vocab: Map<string, number>;

  constructor(
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
    options: {
      source: string;
      chatTemplate?: string | null;
      extraEosTokenIds?: readonly number[];
    },
  ) {
    this.source = options.source;
    // transformers now defaults clean_up_tokenization_spaces to false; the library still defaults
    // it to true, which would rewrite " ." as "." and break decode(encode(text)) === text.
    const config = { clean_up_tokenization_spaces: false, ...tokenizerConfig };
    try {
      this.impl = new HfTokenizer(tokenizerJson, config);
    } catch (error) {
      throw new TokenizerError(this.source, `tokenizer.json is not usable: ${(error as Error).message}`);
    }
    this.vocab = this.impl.get_vocab(true);
    this.vocabSize = this.vocab.size;

    const special = [...this.impl.get_added_tokens_decoder().values()]
      .filter((t) => t.special)
      .map((t) => ({ content: t.content, id: t.id }))
      .sort((a, b) => a.id - b.id);
    this.specialTokens = special;
    this.specialTokenIds = new Set(special.map((t) => t.id));

    const map: Record<string, string> = {};
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"]) {
      const content = tokenContent(tokenizerConfig[key]);
      if (content !== null) map[key] = content;
    }
    this.specialTokensMap = map;
    const idOf = (key: string): number | null => {
      const content = map[key];
      if (content === undefined) return null;
      const id = this.vocab.get(content);
      if (id === undefined)
        throw new TokenizerError(
          this.source,
          `tokenizer_config.json ${key} ${JSON.stringify(content)} is not in the vocabulary`,
        );
      return id;
    };

    this.bosTokenId = idOf("bos_token");
    const eos = idOf("eos_token");
    const eosIds = [...(eos === null ? [] : [eos]), ...(options.extraEosTokenIds ?? [])];
    if (eosIds.length === 0)
      throw new TokenizerError(
        this.source,
        "no end-of-sequence token: set eos_token in tokenizer_config.json (or eos_token_id in generation_config.json)",
      );
    this.eosTokenIds = [...new Set(eosIds)];
    this.eosTokenId = this.eosTokenIds[0];
    this.padTokenId = idOf("pad_token") ?? this.eosTokenId;
    this.chatTemplate = options.chatTemplate ?? null;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.impl.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  /**
   * Ids -> text. Ids with no token (a model's embedding table is often padded past the tokenizer's
   * vocabulary, and an untrained model may sample those rows) are skipped, as transformers does.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const known = ids.filter((id) => this.impl.id_to_token(id) !== undefined);
    if (known.length === 0) return "";
    return this.impl.decode(known, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** Token string (as stored in the vocabulary, e.g. "Ġthe" for byte-level BPE) -> id. */
  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.impl.id_to_token(id);
  }

  isSpecial(id: number): boolean {
    return this.specialTokenIds.has(id);
  }
}

/**
 * Load the tokenizer of a model directory. tokenizer.json and tokenizer_config.json are required
 * (transformers' save_pretrained writes both: the second names the special tokens and usually holds
 * the chat template, and a directory that lost it would silently prompt the model in another
 * format); chat_template.jinja and generation_config.json are read when present.
 */
export function loadTokenizer(dir: string): Tokenizer {
  const tokenizerPath = join(dir, "tokenizer.json");
  if (!existsSync(tokenizerPath))
    throw new TokenizerError(
      dir,
      "no tokenizer.json in this directory (a Hugging Face 'fast' tokenizer file is required)",
    );
  const tokenizerJson = readJson(tokenizerPath);
  const configPath = join(dir, "tokenizer_config.json");
  if (!existsSync(configPath))
    throw new TokenizerError(
      dir,
      "no tokenizer_config.json beside tokenizer.json: it names the special tokens (eos, pad) and holds the " +
        "chat template, so without it the model would be prompted in a format it was not trained on; " +
        "copy it from where the model came from",
    );
  const config = readJson(configPath);
  const generationPath = join(dir, "generation_config.json");
  const generation = existsSync(generationPath) ? readJson(generationPath) : {};
  return new Tokenizer(tokenizerJson, config, {
    source: dir,
    chatTemplate: findChatTemplate(dir, config),
    extraEosTokenIds: idList(generation.eos_token_id),
  });
}
