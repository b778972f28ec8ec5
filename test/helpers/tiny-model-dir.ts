import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildCharTokenizerJson } from "../../src/model/tokenizer-char.js";
import { FIXTURES_DIR } from "../../src/paths.js";

/**
 * Makes `dir` a complete model directory of the tiny Qwen2 fixture: its weights and configs, plus
 * the tokenizer files the fixture does not ship (a character tokenizer over its 384 ids: newline,
 * the feedback marks, printable ASCII, then CJK fillers; <pad>, <bos>, <eos> as its config says).
 */
export function writeTinyModelDir(dir: string): string {
  for (const file of ["config.json", "generation_config.json", "model.safetensors"])
    copyFileSync(join(FIXTURES_DIR, "qwen2-tiny", file), join(dir, file));
  const chars = ["\n", "✓", "×"];
  for (let c = 32; c < 127; c++) chars.push(String.fromCharCode(c));
  for (let cp = 0x4e00; chars.length < 380; cp++) chars.push(String.fromCodePoint(cp));
  writeFileSync(
    join(dir, "tokenizer.json"),
    JSON.stringify(buildCharTokenizerJson(chars, ["<pad>", "<bos>", "<eos>"])),
  );
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({ pad_token: "<pad>", bos_token: "<bos>", eos_token: "<eos>" }),
  );
  return dir;
}
