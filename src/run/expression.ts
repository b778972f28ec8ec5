import { didYouMean } from "../util/suggest.js";

/**
 * A small, safe expression language for success criteria and milestones, e.g.
 *
 *   running_mean(total) > 1.5 AND running_mean(feedback) > 0
 *   NOT (eval/win_rate < 0.2) OR last(kl) <= 0.05
 *
 * Grammar (keywords case-insensitive; `&&`, `||`, `!` also work):
 *
 *   or      := and ("OR" and)*
 *   and     := not ("AND" not)*
 *   not     := "NOT" not | compare
 *   compare := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
 *   sum     := product (("+" | "-") product)*
 *   product := unary ("*" unary)*
 *   unary   := "-" unary | primary
 *   primary := number | name | func "(" name ")" | "(" or ")"
 *
 * A bare name is the metric's latest logged value; `running_mean(name)` its mean over the monitor's
 * window; `last(name)` the same as the bare name. Names may contain `/` (metric keys such as
 * `eval/win_rate`), which is why there is no division operator. Nothing is ever `eval`-ed: the
 * parser builds a tree, checks types (comparisons take numbers, AND/OR/NOT take truth values) and
 * resolves every name to a metric key up front, so a typo fails when the config is read.
 */

export type Expr =
  | { kind: "number"; value: number }
  | { kind: "metric"; fn: MetricFunction; name: string; key: string }
  | { kind: "compare"; op: CompareOp; left: Expr; right: Expr }
  | { kind: "arith"; op: "+" | "-" | "*"; left: Expr; right: Expr }
  | { kind: "negate"; operand: Expr }
  | { kind: "and" | "or"; left: Expr; right: Expr }
  | { kind: "not"; operand: Expr };

export type CompareOp = "<" | "<=" | ">" | ">=" | "==" | "!=";
export const METRIC_FUNCTIONS = ["running_mean", "last"] as const;
export type MetricFunction = (typeof METRIC_FUNCTIONS)[number];

/** What evaluation reads: a metric's latest value and its running mean (undefined: not logged yet). */
export interface MetricSource {
  latest(key: string): number | undefined;
  runningMean(key: string): number | undefined;
}

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

type Token =
  | { type: "number"; value: number; pos: number }
  | { type: "name"; value: string; pos: number }
  | { type: "op"; value: string; pos: number }
  | { type: "end"; pos: number };

const KEYWORDS: Record<string, string> = { and: "AND", or: "OR", not: "NOT" };

function tokenize(source: string, fail: (msg: string, pos: number) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const rest = source.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const number = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(rest);
    if (number) {
      tokens.push({ type: "number", value: Number(number[0]), pos: i });
      i += number[0].length;
      continue;
    }
    const name = /^[A-Za-z_][\w/.]*/.exec(rest);
    if (name) {
      const keyword = KEYWORDS[name[0].toLowerCase()];
      tokens.push(
        keyword ? { type: "op", value: keyword, pos: i } : { type: "name", value: name[0], pos: i },
      );
      i += name[0].length;
      continue;
    }
    const op = /^(<=|>=|==|!=|&&|\|\||[<>()+\-*!])/.exec(rest);
    if (op) {
      const canonical = op[0] === "&&" ? "AND" : op[0] === "||" ? "OR" : op[0] === "!" ? "NOT" : op[0];
      tokens.push({ type: "op", value: canonical, pos: i });
      i += op[0].length;
      continue;
    }
    if (rest[0] === "/") fail("unexpected `/` (there is no division; metric names may contain `/`)", i);
    fail(`unexpected character \`${rest[0]}\``, i);
  }
  tokens.push({ type: "end", pos: source.length });
  return tokens;
}

type Typed = { expr: Expr; type: "number" | "boolean" };

/**
 * Parse an expression. `names` maps every allowed name to its metric key (see metricAliases).
 * `label` goes in front of error messages (e.g. `success_criteria[0]`).
 */
export function parseExpression(
  source: string,
  names: ReadonlyMap<string, string>,
  options: { label?: string; expect?: "boolean" | "number" } = {},
): Expr {
  const label = options.label ?? "expression";
  const fail = (msg: string, pos: number): never => {
    throw new ExpressionError(
      `${label} "${source}", column ${pos + 1}: ${msg}\n  ${source}\n  ${" ".repeat(pos)}^`,
    );
  };
  const tokens = tokenize(source, fail);
  let at = 0;
  const peek = () => tokens[at]!;
  const isOp = (value: string) => {
    const t = peek();
    return t.type === "op" && t.value === value;
  };
  const expectOp = (value: string) => {
    if (!isOp(value)) fail(`expected \`${value}\``, peek().pos);
    at++;
  };
  const need = (typed: Typed, type: "number" | "boolean", what: string, pos: number): Expr => {
    if (typed.type !== type) {
      fail(
        `${what} needs ${type === "number" ? "a number" : "a comparison (true/false)"}, got a ${typed.type}`,
        pos,
      );
    }
    return typed.expr;
  };

  const resolveName = (name: string, pos: number): string => {
    const key = names.get(name);
    if (key === undefined) fail(`unknown metric \`${name}\`.${didYouMean(name, [...names.keys()])}`, pos);
    return key!;
  };

  const parseOr = (): Typed => {
    let left = parseAnd();
    while (isOp("OR")) {
      const pos = peek().pos;
      at++;
      const right = parseAnd();
      left = {
        type: "boolean",
        expr: {
          kind: "or",
          left: need(left, "boolean", "OR", pos),
          right: need(right, "boolean", "OR", pos),
        },
      };
    }
    return left;
  };
  const parseAnd = (): Typed => {
    let left = parseNot();
    while (isOp("AND")) {
      const pos = peek().pos;
      at++;
      const right = parseNot();
      left = {
        type: "boolean",
        expr: {
          kind: "and",
          left: need(left, "boolean", "AND", pos),
          right: need(right, "boolean", "AND", pos),
        },
      };
    }
    return left;
  };
  const parseNot = (): Typed => {
    if (isOp("NOT")) {
      const pos = peek().pos;
      at++;
      return { type: "boolean", expr: { kind: "not", operand: need(parseNot(), "boolean", "NOT", pos) } };
    }
    return parseCompare();
  };
  const parseCompare = (): Typed => {
    const left = parseSum();
    const t = peek();
    if (t.type === "op" && ["<", "<=", ">", ">=", "==", "!="].includes(t.value)) {
      at++;
      const right = parseSum();
      const what = `\`${t.value}\``;
      return {
        type: "boolean",
        expr: {
          kind: "compare",
          op: t.value as CompareOp,
          left: need(left, "number", what, t.pos),
          right: need(right, "number", what, t.pos),
        },
      };
    }
    return left;
  };
  const parseSum = (): Typed => {
    let left = parseProduct();
    for (let t = peek(); t.type === "op" && (t.value === "+" || t.value === "-"); t = peek()) {
      at++;
      const right = parseProduct();
      const op = t.value as "+" | "-";
      const what = `\`${op}\``;
      left = {
        type: "number",
        expr: {
          kind: "arith",
          op,
          left: need(left, "number", what, t.pos),
          right: need(right, "number", what, t.pos),
        },
      };
    }
    return left;
  };
  const parseProduct = (): Typed => {
    let left = parseUnary();
    for (let t = peek(); t.type === "op" && t.value === "*"; t = peek()) {
      at++;
      const right = parseUnary();
      left = {
        type: "number",
        expr: {
          kind: "arith",
          op: "*",
          left: need(left, "number", "`*`", t.pos),
          right: need(right, "number", "`*`", t.pos),
        },
      };
    }
    return left;
  };
  const parseUnary = (): Typed => {
    if (isOp("-")) {
      const pos = peek().pos;
      at++;
      return { type: "number", expr: { kind: "negate", operand: need(parseUnary(), "number", "`-`", pos) } };
    }
    return parsePrimary();
  };
  const parsePrimary = (): Typed => {
    const t = peek();
    if (t.type === "number") {
      at++;
      return { type: "number", expr: { kind: "number", value: t.value } };
    }
    if (t.type === "op" && t.value === "(") {
      at++;
      const inner = parseOr();
      expectOp(")");
      return inner;
    }
    if (t.type === "name") {
      at++;
      if (isOp("(")) {
        if (!(METRIC_FUNCTIONS as readonly string[]).includes(t.value)) {
          fail(
            `unknown function \`${t.value}\` (known: ${METRIC_FUNCTIONS.join(", ")}).${didYouMean(t.value, METRIC_FUNCTIONS)}`,
            t.pos,
          );
        }
        at++;
        const arg = peek();
        if (arg.type !== "name") fail(`\`${t.value}(...)\` takes a metric name`, arg.pos);
        at++;
        expectOp(")");
        const name = (arg as { value: string }).value;
        const key = resolveName(name, arg.pos);
        return { type: "number", expr: { kind: "metric", fn: t.value as MetricFunction, name, key } };
      }
      return {
        type: "number",
        expr: { kind: "metric", fn: "last", name: t.value, key: resolveName(t.value, t.pos) },
      };
    }
    if (t.type === "end") return fail("unexpected end of expression", t.pos);
    return fail(`unexpected \`${(t as { value: string }).value}\``, t.pos);
  };

  const result = parseOr();
  if (peek().type !== "end")
    fail(`unexpected \`${(peek() as { value: string }).value}\` after a complete expression`, peek().pos);
  const expect = options.expect ?? "boolean";
  if (result.type !== expect) {
    fail(
      expect === "boolean" ? "must be a comparison such as `running_mean(total) > 1.5`" : "must be a number",
      0,
    );
  }
  return result.expr;
}

/**
 * Evaluate with three-valued logic: a metric that has not been logged yet is `undefined`
 * ("unknown"), comparisons with unknown are unknown, `false AND unknown` is false and
 * `true OR unknown` is true. A criterion is met only when it evaluates to `true`.
 */
export function evaluate(expr: Expr, source: MetricSource): number | boolean | undefined {
  switch (expr.kind) {
    case "number":
      return expr.value;
    case "metric":
      return expr.fn === "running_mean" ? source.runningMean(expr.key) : source.latest(expr.key);
    case "negate": {
      const v = evaluate(expr.operand, source) as number | undefined;
      return v === undefined ? undefined : -v;
    }
    case "arith": {
      const a = evaluate(expr.left, source) as number | undefined;
      const b = evaluate(expr.right, source) as number | undefined;
      if (a === undefined || b === undefined) return undefined;
      return expr.op === "+" ? a + b : expr.op === "-" ? a - b : a * b;
    }
    case "compare": {
      const a = evaluate(expr.left, source) as number | undefined;
      const b = evaluate(expr.right, source) as number | undefined;
      if (a === undefined || b === undefined || Number.isNaN(a) || Number.isNaN(b)) return undefined;
      return compare(expr.op, a, b);
    }
    case "not": {
      const v = evaluate(expr.operand, source) as boolean | undefined;
      return v === undefined ? undefined : !v;
    }
    case "and": {
      const a = evaluate(expr.left, source) as boolean | undefined;
      const b = evaluate(expr.right, source) as boolean | undefined;
      if (a === false || b === false) return false;
      return a === undefined || b === undefined ? undefined : true;
    }
    case "or": {
      const a = evaluate(expr.left, source) as boolean | undefined;
      const b = evaluate(expr.right, source) as boolean | undefined;
      if (a === true || b === true) return true;
      return a === undefined || b === undefined ? undefined : false;
    }
  }
}

function compare(op: CompareOp, a: number, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "==":
      return a === b;
    case "!=":
      return a !== b;
  }
}

/** The numeric side of a comparison-shaped criterion (its left operand), for "value vs threshold" displays. */
export function leftValue(expr: Expr, source: MetricSource): number | undefined {
  const target = expr.kind === "compare" ? expr.left : expr;
  const v = evaluate(target, source);
  return typeof v === "number" ? v : undefined;
}

/** Metric keys an expression reads, each with the function that reads it. */
export function metricsUsed(expr: Expr): Array<{ key: string; fn: MetricFunction }> {
  switch (expr.kind) {
    case "number":
      return [];
    case "metric":
      return [{ key: expr.key, fn: expr.fn }];
    case "negate":
    case "not":
      return metricsUsed(expr.operand);
    default:
      return [...metricsUsed(expr.left), ...metricsUsed(expr.right)];
  }
}

/** Split top-level ANDs: `a AND (b AND c)` -> [a, b, c]. Each part can then be shown and tracked alone. */
export function conjuncts(expr: Expr): Expr[] {
  return expr.kind === "and" ? [...conjuncts(expr.left), ...conjuncts(expr.right)] : [expr];
}

const PRECEDENCE: Record<Expr["kind"], number> = {
  or: 1,
  and: 2,
  not: 3,
  compare: 4,
  arith: 5, // `+` and `-`; `*` binds tighter (see precedence below)
  negate: 6,
  number: 7,
  metric: 7,
};
const precedence = (e: Expr) => (e.kind === "arith" && e.op === "*" ? 5.5 : PRECEDENCE[e.kind]);

/** Print an expression back as text (canonical keywords, minimal parentheses). */
export function formatExpression(expr: Expr): string {
  const wrap = (child: Expr, min: number) => {
    const text = formatExpression(child);
    return precedence(child) < min ? `(${text})` : text;
  };
  switch (expr.kind) {
    case "number":
      return String(expr.value);
    case "metric":
      return expr.fn === "last" ? expr.name : `${expr.fn}(${expr.name})`;
    case "negate":
      return `-${wrap(expr.operand, PRECEDENCE.negate)}`;
    case "not":
      return `NOT ${wrap(expr.operand, PRECEDENCE.not)}`;
    case "arith": {
      const p = precedence(expr);
      return `${wrap(expr.left, p)} ${expr.op} ${wrap(expr.right, p + 0.5)}`;
    }
    case "compare":
      return `${wrap(expr.left, PRECEDENCE.arith)} ${expr.op} ${wrap(expr.right, PRECEDENCE.arith)}`;
    case "and":
    case "or":
      return `${wrap(expr.left, PRECEDENCE[expr.kind])} ${expr.kind.toUpperCase()} ${wrap(expr.right, PRECEDENCE[expr.kind] + 0.5)}`;
  }
}
