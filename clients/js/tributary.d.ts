// Type declarations for tributary.js (no build step: the module is plain JavaScript).

/** A tributary.v1 record (docs/protocol.md, records). */
export interface TributaryRecord {
  schema: "tributary.v1";
  topic: string;
  kind: string;
  subject: string;
  source: string;
  feed: string;
  native?: string;
  /** The source's own time, ms since the Unix epoch. */
  ts: number;
  received: number;
  /** Increases by one per topic; the same on every node of a cluster. */
  seq: number;
  stale: boolean;
  data: Record<string, unknown>;
}

export interface DeliveryMeta {
  type: "snapshot" | "update";
  topic: string;
}

export type RecordHandler = (record: TributaryRecord, meta: DeliveryMeta) => void;
export type TokenSource = string | (() => string | Promise<string>);

export interface ReconnectOptions {
  /** First delay, ms (default 250). */
  initialMs?: number;
  /** Largest delay, ms (default 15000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Spread as a fraction of the delay, 0..1 (default 0.5). */
  jitter?: number;
}

export interface FallbackOptions {
  /** Poll period while the socket is down, ms (default 5000). */
  intervalMs?: number;
  /** Failed connection attempts before polling starts (default 1). */
  after?: number;
  /** View routes to poll, as "/api/crypto/dashboard-summary". */
  views?: string[];
  /** Server-Sent Events from /sse where EventSource exists (default true); else polling. */
  sse?: boolean;
}

export interface ClientOptions {
  /** WebSocket URL; default: /ws on the page's host. */
  url?: string;
  /** Base URL of the HTTP API; default: derived from url. */
  httpUrl?: string;
  /** A JWT, or a function returning a fresh one (called on each connect and before expiry). */
  token?: TokenSource;
  reconnect?: ReconnectOptions;
  /** HTTP polling while the socket is down; false to turn it off. */
  fallback?: FallbackOptions | false;
  /** An attempt not open by then is abandoned and retried, ms (default 10000). */
  connectTimeoutMs?: number;
  /** Re-authenticate this long before the token expires, ms (default 15000). */
  refreshBeforeMs?: number;
  WebSocket?: unknown;
  fetch?: typeof fetch;
  /** For the SSE fallback (default: the global one). */
  EventSource?: typeof EventSource;
}

export type ClientState = "idle" | "connecting" | "open" | "closed";

export interface ProtocolError extends Error {
  code: string;
  topic?: string;
}

export declare function topicMatches(pattern: string, topic: string): boolean;
export declare function backoffDelay(attempt: number, opts?: Required<ReconnectOptions>, random?: () => number): number;

export declare class TributaryClient {
  constructor(options?: ClientOptions);
  readonly url: string;
  readonly httpUrl: string;
  readonly state: ClientState;
  /** The token's `sub` once authenticated. */
  readonly user: string | null;
  readonly session: string | null;
  /** The server's history epoch (from `hello`); it changes when the history was lost. */
  readonly epoch: string | null;

  connect(): void;
  close(): void;
  /** Returns a function that removes the handler (and unsubscribes patterns left without one). */
  subscribe(patterns: string | string[], handler?: RecordHandler): () => void;

  on(event: "record" | `topic:${string}`, handler: RecordHandler): () => void;
  on(event: "view", handler: (view: Record<string, unknown>, meta: { route: string }) => void): () => void;
  on(event: "state", handler: (state: ClientState) => void): () => void;
  on(event: "authenticated", handler: (info: { user: string; userSegment: string; expiresMs: number | null }) => void): () => void;
  on(event: "error", handler: (error: ProtocolError | Error) => void): () => void;
  /** A resubscribe found the history's epoch changed: the seqs held were dropped, snapshots follow. */
  on(event: "epoch_changed", handler: (info: { previous: string; epoch: string; topics: string[] }) => void): () => void;
  on(event: "open", handler: (info: { session: string | null; user: string | null }) => void): () => void;
  on(event: "close", handler: (info: { code: number; reason: string }) => void): () => void;
  on(event: "fallback", handler: (info: { active: boolean; transport?: "sse" | "polling" }) => void): () => void;

  lastSeq(topic: string): number;
  latest(topic: string): TributaryRecord | undefined;
  /** GET /api/v1/history/{topic}: recent records, oldest first. Rejects with an Error carrying `status` and `code`. */
  history(topic: string, opts?: { since?: number; limit?: number }): Promise<{ topic: string; epoch: string; records: TributaryRecord[] }>;
  topics(): string[];
  view(route: string): Record<string, unknown> | undefined;
  /** Round trip in ms. */
  ping(): Promise<number>;
  authenticate(token?: string): Promise<unknown>;
}
