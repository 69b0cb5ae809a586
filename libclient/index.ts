// upkeeper's client library: `import { connect } from 'upkeeper'`.
import { Client, type ConnectOptions } from './client.js';

export {
  Client,
  RECONNECT_MS,
  type ConnectOptions,
  type EventFilter,
  type HookRunFilter,
  type ConfigHistoryOptions,
  type RequestFilter,
  type CorrelateOptions,
  type TimelineOptions,
  type TimeLike,
  type TrendOptions,
} from './client.js';
export { describeEvent, describeExit, describeFailure, plain, utcTime } from './words.js';
export { describeCorrelation, formatScore, oneSide, sidesOf } from './correlation-words.js';
export { formatDuration, parseDuration } from '../schema/durations.js';
export { isoParts, isoInstant, wallClockMs, ISO_INSTANT_WORDS, type IsoParts } from '../schema/iso-time.js';
export type { EventMatch } from '../schema/event-filter.js';
export { Subscription, type Notice, type SubscribeFilter } from './subscription.js';
export type { FollowLogsOptions, LogLine, LogStream } from './log-follow.js';
export { startController, stopController, restartController, type StartedController } from './controller-process.js';
export { shutdownBuddies, type BuddyShutdown } from './buddy-shutdown.js';
export { STATE_DIR } from '../schema/state-dir.js';
export { checkConfiguration, configuredServices, formatConfigIssue, type ConfigurationCheck } from './configuration-check.js';
export {
  findServiceDefinitions,
  addedFileText,
  isAddedFile,
  setServiceNumber,
  ADDED_FILE_MARKER,
  type ServiceDefinition,
} from './service-files.js';
export { isValidServiceId } from '../schema/config/names.js';
export { startupUnit, startupUnitFile, type StartupUnit, type StartupUnitOptions } from './startup-unit.js';
export { upkeeperVersion } from '../schema/version.js';
export { readControllerConfig, controllerSocket, type DiscoveryOptions } from './discovery.js';
export { bridge } from './bridge.js';
export { checkHost } from './ssh-channel.js';
export { FleetReader, type FleetEventFilter } from './fleet-queries.js';
export { FLEET_CORRELATE_SERVICES_MAX, type FleetCorrelateOptions } from './fleet-correlate.js';
export { refuseUnknownHosts, type FleetEvent, type FleetHosts } from './fleet-sql.js';
export type { FleetFailureStory } from './fleet-story.js';
export type { FleetStatusAt } from './fleet-status-at.js';
export type { FleetTimelineEntry, FleetTimelineQuery, FleetTimelineResult } from './fleet-timeline.js';
export type { FleetConfigChange, FleetConfigHistoryFilter, FleetRequestFilter, FleetRequestRecord } from './fleet-audit.js';
export { FLEET_TREND_BY, type FleetTrendBy, type FleetTrendQuery, type FleetTrendResult, type FleetTrendSeries } from './fleet-trend.js';
export {
  FleetDatabase,
  fleetDatabaseUrl,
  FLEET_READ_TIMEOUT_MS,
  FLEET_STATEMENT_TIMEOUT_MS,
  type FleetDatabaseOptions,
  type FleetOpenOptions,
  type FleetUrl,
} from './fleet-database.js';
export { listHosts, HOST_TIMEOUT_MS, type HostListing, type ListHostsOptions } from './fleet.js';
export { UpkError, ErrorCode, type WireError } from '../schema/errors.js';
export { ExitCode, exitCodeFor } from '../schema/exit-codes.js';
export type {
  ServiceStatus,
  ServiceState,
  DesiredState,
  ServiceEvent,
  EventType,
  ExitInfo,
  Hold,
  ActionResult,
  ResourceUsage,
  LastOutput,
  Unsupervised,
} from '../schema/records.js';
export { SERVICE_STATES, DESIRED_STATES, EVENT_TYPES, EVENT_TYPE_NAMES } from '../schema/records.js';
export { detailOf, type EventDetails } from '../schema/event-details.js';
export type {
  ControllerInfo,
  ControllerStatus,
  ControllerStats,
  FleetExportStatus,
  ControllerProblem,
  OutcomeItem,
  EventPage,
  EventQuery,
  ReloadResult,
  ConfigChangeRecord,
  TrendMetric,
  TrendResult,
  TrendSeries,
  TrendPoint,
  Flapping,
  FailureStory,
  ConfigChangeBefore,
  RunRecord,
  LogTail,
  HookRun,
  HookOutcome,
  StatusAtResult,
  PastServiceStatus,
  PastConfigChange,
} from '../schema/client-protocol.js';
export {
  TREND_METRICS,
  TREND_UNITS,
  TREND_MAX_BUCKETS,
  FLAP_RESTARTS,
  FLAP_WINDOW_MS,
  LOG_TAIL_MAX_LINES,
  EVENTS_QUERY_MAX,
  EVENTS_PAGE_MAX,
  HOOK_OUTCOMES,
  HOOK_RUNS_MAX,
  REQUESTER_MAX,
  CONFIG_CHANGE_WINDOW_MS,
} from '../schema/client-protocol.js';
export type { ConfigIssue, ControllerConfig, ServiceConfig } from '../schema/config/types.js';
export type { ConfigHistoryRecord, ConfigValueChange, ClientRequestRecord } from '../schema/audit-protocol.js';
export { CONFIG_HISTORY_MAX, REQUESTS_MAX } from '../schema/audit-protocol.js';
export type { Correlation, CorrelationKind, CorrelationResult } from '../schema/correlation-protocol.js';
export {
  CORRELATION_KINDS,
  CORRELATION_WINDOW_MS,
  CORRELATION_WINDOW_MAX_MS,
  CORRELATION_FAILURES,
  CORRELATION_FAILURES_MAX,
  CORRELATION_LIMIT,
  CORRELATION_LIMIT_MAX,
  CORRELATION_MIN_FAILURES,
  CORRELATION_SIGNIFICANCE,
} from '../schema/correlation-protocol.js';
export type { TimelineBurst, TimelineConfigChange, TimelineEntry, TimelineResult } from '../schema/timeline-protocol.js';
export { TIMELINE_BURST_GAP_MS, TIMELINE_DEFAULT, TIMELINE_MAX } from '../schema/timeline-protocol.js';

/**
 * Connect to the controller (found through `options.config`, $UPKEEPER_CONFIG or the default config),
 * or to a host's through ssh (`options.host`, $UPKEEPER_HOST: docs/fleet.md).
 */
export function connect(options: ConnectOptions = {}): Promise<Client> {
  return Client.connect(options);
}
