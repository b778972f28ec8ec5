// Data types and devices: the names the API accepts and how they map to the addon's codes.
import { native } from "./native.js";

export const DTYPES = [
  "float32",
  "bfloat16",
  "float16",
  "float64",
  "int64",
  "int32",
  "int16",
  "int8",
  "uint8",
  "bool",
] as const;
export type DType = (typeof DTYPES)[number];

/** cpu, cuda (the current CUDA device), cuda:N, mps. */
export type Device = "cpu" | "cuda" | `cuda:${number}` | "mps";

const codeByName = new Map<DType, number>();
const nameByCode: DType[] = [];
for (const name of DTYPES) {
  const code = native.dtypes[name];
  if (code === undefined)
    throw new Error(
      `wordle-grpo: the addon has no code for dtype ${name}; rebuild it (npm run build:native)`,
    );
  codeByName.set(name, code);
  nameByCode[code] = name;
}

export function dtypeCode(dtype: DType): number {
  const code = codeByName.get(dtype);
  if (code === undefined) throw new Error(`unknown dtype "${dtype}" (expected one of ${DTYPES.join(", ")})`);
  return code;
}

export function dtypeFromCode(code: number): DType {
  const name = nameByCode[code];
  if (name === undefined)
    throw new Error(`tensor has a dtype (code ${code}) the TypeScript API does not name`);
  return name;
}

export function isFloatingDType(dtype: DType): boolean {
  return dtype === "float32" || dtype === "bfloat16" || dtype === "float16" || dtype === "float64";
}

/** Bytes per element, for raw byte I/O (safetensors). */
export function dtypeSize(dtype: DType): number {
  switch (dtype) {
    case "float64":
    case "int64":
      return 8;
    case "float32":
    case "int32":
      return 4;
    case "bfloat16":
    case "float16":
    case "int16":
      return 2;
    case "int8":
    case "uint8":
    case "bool":
      return 1;
  }
}

const DEVICE_PATTERN = /^(cpu|mps|cuda(:\d+)?)$/;

export function checkDevice(device: string): Device {
  if (!DEVICE_PATTERN.test(device))
    throw new Error(`invalid device "${device}" (expected cpu, cuda, cuda:N or mps)`);
  return device as Device;
}
