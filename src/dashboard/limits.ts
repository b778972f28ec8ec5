/**
 * Every bound the dashboard puts on what it reads and serves, in one place so docs/dashboard.md
 * ("Limits and hardening") and the tests can name them. Each is far above what a real run needs
 * (a metrics row is about 2-3 kB with 60-70 numeric keys) and far below what hurts the machine.
 */

const MiB = 1024 * 1024;

/** Bytes read from one run file per read call; the buffer is reused for the next chunk. */
export const READ_CHUNK_BYTES = 4 * MiB;
/**
 * Bytes read from one run file per poll. A file that grew by gigabytes is taken in these steps,
 * the next poll following at once, so a poll (and a shutdown waiting for it) stays short.
 */
export const MAX_BYTES_PER_POLL = 64 * MiB;
/** A JSONL line longer than this is skipped and reported, never buffered whole. */
export const MAX_LINE_BYTES = 16 * MiB;
/** config.json larger than this is reported and not parsed (the trainer writes a few kB). */
export const MAX_CONFIG_BYTES = 4 * MiB;
/** Numeric metric keys kept as chart columns per run; further keys are reported and ignored. */
export const MAX_COLUMNS = 1024;
/** Column indices one `/api/runs/<id>/columns` request may list (before removing duplicates). */
export const MAX_KEYS_PER_REQUEST = MAX_COLUMNS;
/** Largest `/api/runs/<id>/columns` body; larger requests are refused with 413. */
export const MAX_COLUMNS_RESPONSE_BYTES = 256 * MiB;
/** Column responses being sent at once; more are answered 503 with Retry-After. */
export const MAX_CONCURRENT_COLUMN_RESPONSES = 16;
/** Run-file downloads (`/runs/<id>/<file>`) being sent at once; more are answered 503. */
export const MAX_CONCURRENT_FILE_RESPONSES = 16;
/** Open event streams (`/api/events`, one per browser tab); more are answered 503. */
export const MAX_EVENT_STREAMS = 32;
/** Bytes queued for an event-stream client that does not read; past this it is disconnected. */
export const MAX_EVENT_STREAM_BACKLOG_BYTES = 64 * MiB;
/** How long closing the server waits for a poll in progress before closing anyway. */
export const CLOSE_WAIT_FOR_POLL_MS = 1000;
/** After SIGTERM/SIGINT, how long a graceful close may take before the process dies by the signal. */
export const SIGNAL_EXIT_DEADLINE_MS = 3000;
