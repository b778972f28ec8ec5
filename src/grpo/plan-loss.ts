import type { GrpoConfig } from "./config/schema.js";

/**
 * What the loss settings cost or change in a run, for `wordle-grpo plan`: the passes beyond the
 * policy's forward and backward, and the multi-turn row packing a per-completion loss gives up.
 * (Refused and doubtful combinations are config/validate.ts's; plan prints those as warnings.)
 */
export function lossPlanNotes(c: GrpoConfig): string[] {
  const notes: string[] = [];
  const parts = [`loss_type ${c.loss_type}`, `${c.importance_sampling_level}-level importance ratio`];
  if (c.delta !== null) parts.push(`ratio capped at delta ${c.delta}`);
  if (c.off_policy_mask_threshold !== null) parts.push(`off-policy mask at ${c.off_policy_mask_threshold}`);
  if (c.top_entropy_quantile < 1) parts.push(`top ${c.top_entropy_quantile} of tokens by entropy`);
  if (c.entropy_coef !== 0) parts.push(`entropy bonus ${c.entropy_coef}`);
  if (c.multi_objective_aggregation === "normalize_then_sum")
    parts.push("rewards normalised per function (GDPO)");
  notes.push(`Loss: ${parts.join(", ")}.`);
  if (c.top_entropy_quantile < 1 || c.entropy_coef !== 0) {
    notes.push(
      c.entropy_coef !== 0
        ? "The entropy bonus adds a forward and a backward pass per micro-batch (entropy-pass.ts), keeping " +
            "every block's activations for it whatever gradient_checkpointing says: about twice the step's " +
            "model compute."
        : "top_entropy_quantile adds a no-grad forward pass per micro-batch for the entropies that pick the tokens.",
    );
  }
  if (c.mode === "multi_turn" && !packable(c)) {
    notes.push(
      "Each turn of a game is scored in a row of its own (packing a game's turns into one row is exact only " +
        "for dapo or cispo at token level without the off-policy mask): about three times the loss tokens.",
    );
  }
  return notes;
}

/**
 * Packing a game's turns into one loss row (loss-rows.ts) is exact only for a token-level loss that
 * is a token sum over the whole generation batch; the others need one row per completion.
 */
export function packable(c: GrpoConfig): boolean {
  return (
    (c.loss_type === "dapo" || c.loss_type === "cispo") &&
    c.importance_sampling_level === "token" &&
    c.off_policy_mask_threshold === null
  );
}
