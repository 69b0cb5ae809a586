// What a route of the HTTP API is (routes.ts holds the table), and the JSON bodies and stream messages
// the routes answer with, by name: the OpenAPI document names them, and its schemas are made from
// these types and the types of schema/ they name (scripts/openapi.mjs).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  ActionResult,
  Client,
  ClientRequestRecord,
  ConfigHistoryRecord,
  ConfigurationCheck,
  ControllerStatus,
  CorrelationResult,
  FailureStory,
  LogTail,
  OutcomeItem,
  ReloadResult,
  ServiceEvent,
  ServiceStatus,
  StatusAtResult,
  TimelineResult,
  TrendResult,
  WireError,
} from '../../libclient/index.js';
import type { EventStreamMessages, LogStreamMessages } from './event-stream.js';
import type { OpenApiDocument } from './openapi.js';
import type { Args, Fields } from './route-args.js';

/**
 * The JSON body each route answers with, by name. The OpenAPI document's response schemas are made
 * from these types (and the types of schema/ they name, with their comments); a route's `run` must
 * answer the one its `answer` names.
 */
export interface Answers {
  /** Every service with its status. */
  ServiceList: { services: ServiceStatus[] };
  /** One service's status. */
  ServiceAnswer: { service: ServiceStatus };
  /**
   * A change of one service (start, stop, restart, reload): its outcome; when it did not go as asked,
   * also its error, whose code gives the answer's status.
   */
  OutcomeAnswer: { outcome: OutcomeItem; error?: WireError };
  /** The signal was sent: to this process (or its process group). */
  SignalAnswer: Awaited<ReturnType<Client['signal']>>;
  /** How the custom action's script ended, and what it wrote. */
  ActionAnswer: { result: ActionResult };
  FailureStory: FailureStory;
  LogTail: LogTail;
  /** Events, oldest first; `last`: the id of the last one (`after` for the next page), null when none. */
  EventList: { events: ServiceEvent[]; last: number | null };
  TrendResult: TrendResult;
  /** The statuses at a past time, reconstructed from the audit history; `at`: that time. */
  StatusAtResult: StatusAtResult;
  ControllerStatus: ControllerStatus;
  ConfigurationCheck: ConfigurationCheck;
  ReloadResult: ReloadResult;
  OpenApiDocument: OpenApiDocument;
  /** A service's configuration changes, oldest first, each with its keys' values before and after. */
  ConfigHistory: { changes: ConfigHistoryRecord[] };
  /** The client requests that changed something, oldest first: who asked, what, how each ended. */
  AuditTrail: { requests: ClientRequestRecord[] };
  /** What fails together: the events of other services near a service's failures, or the pairs of services whose failures co-occur. */
  CorrelationResult: CorrelationResult;
  /** Events, configuration changes and client requests, oldest first, and their bursts. */
  TimelineResult: TimelineResult;
}

/** What each live stream sends, by name: the `event:` names of its messages and the JSON of their `data:`. */
export interface Streams {
  EventStreamMessages: EventStreamMessages;
  LogStreamMessages: LogStreamMessages;
}

/** What a route is given. */
export interface RouteContext {
  /** The controller's client, connected at the first request that needs it. */
  client: () => Promise<Client>;
  /** The path's parameters (`:name`, `:action`), decoded. */
  params: Record<string, string>;
  /** Its query parameters, headers and body fields, as the route declares them, checked. */
  args: Args;
}

/** What a route that writes its own answer (a stream, the metrics) is given. */
export interface RawContext extends RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
}

/** A route's answer: the body as JSON, and its status (200 unless said). */
export interface RouteAnswer<T = unknown> {
  status?: number;
  body: T;
}

interface RouteBase {
  /** Its operationId in the OpenAPI document: unique. */
  id: string;
  method: 'GET' | 'POST';
  /** The whole path; `:name` is a service id (PATH_PARAMS). */
  path: string;
  summary: string;
  /** What the summary leaves out. */
  description?: string;
  query?: Fields;
  headers?: Fields;
  /** The fields of its JSON body (an object; none: {} or no body). */
  body?: Fields;
}

/** A route that answers JSON: the body its `answer` names (Answers). */
export type JsonRoute = {
  [K in keyof Answers]: RouteBase & { answer: K; run(c: RouteContext): Promise<RouteAnswer<Answers[K]>> };
}[keyof Answers];

/** A route that answers Server-Sent Events (`text/event-stream`) until the reader goes: the messages `stream` names (Streams). */
export interface StreamRoute extends RouteBase {
  stream: keyof Streams;
  serve(c: RawContext): Promise<void>;
}

/** A route that answers text of its own kind (`text`: its Content-Type); it also takes HEAD. */
export interface TextRoute extends RouteBase {
  text: string;
  serve(c: RawContext): Promise<void>;
}

export type Route = JsonRoute | StreamRoute | TextRoute;
