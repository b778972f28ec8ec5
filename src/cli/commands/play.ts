import type { Command } from "commander";
import { loadPolicy } from "../../eval/load-policy.js";
import { playGames } from "../../eval/play-games.js";
import type { GuessPolicy } from "../../eval/policy.js";
import { checkSecrets } from "../../eval/secrets.js";
import { renderGuess, useColor } from "../../eval/tiles.js";
import { addPolicyOptions, type PolicyFlags, policySettings } from "./eval.js";

/**
 * `wordle-grpo play --secret frost`: one game, turn by turn, as it is played: the model's raw
 * completion for each turn, then the guess as coloured tiles (plain `F✓ R~ O×` text when the
 * output is not a terminal). Invalid guesses cost a turn, as in `eval`.
 */

interface PlayFlags extends PolicyFlags {
  secret: string;
  color: boolean;
  prompt?: boolean;
}

/** Indent every line of a completion so it reads as a quote under its turn. */
function quote(text: string): string {
  return text
    .split("\n")
    .map((line) => `    │ ${line}`)
    .join("\n");
}

export function register(program: Command): void {
  const command = program
    .command("play")
    .description("Play one game turn by turn (a model, or a solver), showing completions and coloured tiles");
  addPolicyOptions(command)
    .option("--secret <word>", "the secret word (one of the 2,315 answers)", "frost")
    .option("--no-color", "plain text tiles even on a terminal")
    .option("--prompt", "also print the prompt the model is shown each turn")
    .action(async (flags: PlayFlags) => {
      const [secret] = checkSecrets([flags.secret], () => "--secret");
      const loaded = await loadPolicy(policySettings(flags));
      const color = flags.color && useColor(process.stdout);
      const out = (line: string) => process.stdout.write(`${line}\n`);
      out(`${loaded.description} plays ${secret.toUpperCase()}${flags.hard ? " (hard mode)" : ""}`);
      // Wrap the policy to show each prompt before the model answers it.
      const inner = loaded.policy;
      const shown = loaded.model;
      const policy: GuessPolicy =
        flags.prompt && shown
          ? {
              name: inner.name,
              decoding: inner.decoding,
              reset: inner.reset,
              next: async (states) => {
                for (const s of states) out(`  prompt for turn ${s.turn}:\n${quote(shown.promptText(s))}`);
                return inner.next(states);
              },
            }
          : inner;
      try {
        const { games } = await playGames(policy, [secret], {
          hardMode: flags.hard,
          excerptChars: Number.POSITIVE_INFINITY,
          onTurn: (event) => {
            out(`turn ${event.turn}`);
            // A solver's completion is only its guess tag; a model's is worth reading.
            if (loaded.model) out(quote(event.record.completion));
            const tokens = loaded.model?.lastCompletions[0];
            const note = tokens
              ? `  (${tokens.length} tokens${tokens.truncated ? ", cut at --max-new-tokens" : ""})`
              : "";
            out(`  ${renderGuess(event.record, color)}${note}`);
          },
        });
        const game = games[0];
        const invalid = game.guesses.filter((g) => !g.valid).length;
        const invalidNote = invalid > 0 ? ` (${invalid} invalid)` : "";
        out(
          game.won
            ? `won in ${game.turns} turn${game.turns === 1 ? "" : "s"}${invalidNote}`
            : `lost${invalidNote}: the word was ${secret.toUpperCase()}`,
        );
      } finally {
        loaded.dispose();
      }
    });
}
