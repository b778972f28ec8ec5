import { bytesField, doubleField, floatField, messageField, varintField } from "./protobuf.js";

/**
 * TensorBoard `Event` protos, encoded by hand (protobuf.ts). The field numbers are those of
 * TensorBoard's tensorboard/compat/proto/event.proto, summary.proto and tensor.proto:
 *
 *   Event          { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5 }
 *   Summary        { repeated Value value = 1 }
 *   Value          { string tag = 1; float simple_value = 2; TensorProto tensor = 8; SummaryMetadata metadata = 9 }
 *   SummaryMetadata{ PluginData plugin_data = 1 { string plugin_name = 1 }; DataClass data_class = 4 }
 *   TensorProto    { DataType dtype = 1; TensorShapeProto tensor_shape = 2; repeated bytes string_val = 8 }
 */

/** The first record of every event file: readers check it names version 2. */
export const FILE_VERSION = "brain.Event:2";

const DT_STRING = 7;
/** DataClass DATA_CLASS_TENSOR: text is a tensor time series (scalars get theirs from simple_value). */
const DATA_CLASS_TENSOR = 2;

function event(wallTime: number, step: number, what: Buffer): Buffer {
  return Buffer.concat([doubleField(1, wallTime), varintField(2, step), what]);
}

export function fileVersionEvent(wallTime: number): Buffer {
  return event(wallTime, 0, bytesField(3, FILE_VERSION));
}

/** One event holding a `simple_value` per metric, as TensorBoard's scalars dashboard reads them. */
export function scalarsEvent(
  wallTime: number,
  step: number,
  values: ReadonlyArray<[string, number]>,
): Buffer {
  const summaryValues = values.map(([tag, value]) =>
    messageField(1, bytesField(1, tag), floatField(2, value)),
  );
  return event(wallTime, step, messageField(5, ...summaryValues));
}

/**
 * A text summary in the form TensorBoard's text plugin reads: a rank-0 DT_STRING tensor holding
 * markdown, tagged with the plugin's name ("text") in the value's metadata.
 */
export function textEvent(wallTime: number, step: number, tag: string, markdown: string): Buffer {
  const metadata = messageField(9, messageField(1, bytesField(1, "text")), varintField(4, DATA_CLASS_TENSOR));
  // tensor_shape present and empty: rank 0, a single string.
  const tensor = messageField(8, varintField(1, DT_STRING), messageField(2), bytesField(8, markdown));
  return event(wallTime, step, messageField(5, messageField(1, bytesField(1, tag), metadata, tensor)));
}
