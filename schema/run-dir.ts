// The names of every file in a service's run directory: one definition for controller and buddy.
// docs/run-directory.md documents each of them as a contract.

export const RUN_DIR = {
  /** Unix socket the buddy listens on (0600); the controller connects to it. */
  socket: 'buddy.sock',
  /** The buddy's settings, written whole by the controller (BuddySettings, JSON). */
  settings: 'buddy.json',
  /** The buddy's status record, written whole (`status.new`, then rename) on every change (JSON). */
  status: 'status',
  scripts: 'scripts',
  actions: 'actions',
  log: 'log',
  /**
   * Events the buddy could not hand to a controller (its ring was full): NDJSON, a header line first.
   * A buddy that is gone leaves it renamed `journal.<instance>`, for the controller to take in.
   */
  journal: 'journal',
  /** Type notify: the service's NOTIFY_SOCKET, an AF_UNIX datagram socket (0600) bound by the buddy's relay. */
  notifySocket: 'notify.sock',
  /** ReadyFd: the FIFO the service gets as that descriptor, read by the buddy (a newline: ready). */
  readyPipe: 'ready_pipe',
  /** Listen: which process holds the service's sockets (its pid, start time, descriptors and the sockets; JSON). */
  listen: 'listen',
} as const;

export const SCRIPT = {
  start: 'start',
  stop: 'stop',
  reload: 'reload',
  pipeStdout: 'pipe-stdout',
  pipeStderr: 'pipe-stderr',
} as const;

export const LOG = {
  /** What the service writes to stdout and stderr (unless redirected or piped). */
  stdout: 'stdout',
  stderr: 'stderr',
  /** Output of every action script (stop, reload, custom actions), with a header line per run. */
  actions: 'actions',
  /** The buddy's own messages. */
  buddy: 'buddy',
  /** FIFOs the service writes into; the buddy (or the pipe script) reads them. */
  stdoutPipe: 'stdout_pipe',
  stderrPipe: 'stderr_pipe',
} as const;

/**
 * The FIFO an action script (stop, reload, custom) writes its stdout and stderr into: log/action.0.pipe,
 * log/action.1.pipe …, one slot per action running at once. Made on first need; one a background
 * child of an action still held when the buddy stopped reading is removed, and made anew next time.
 */
export const actionPipe = (slot: number): string => `action.${slot}.pipe`;
/** Recognises actionPipe names (a new buddy removes those a previous one left). */
export const ACTION_PIPE_PATTERN = /^action\.\d+\.pipe$/;

/** Custom actions are linked as actions/00 .. actions/31, in config order. */
export const MAX_CUSTOM_ACTIONS = 32;
export const actionNumber = (index: number): string => String(index).padStart(2, '0');

/**
 * The variable every process of a service inherits from `scripts/start`, with the service's uuid as
 * its value: what left the process group is still found by it (buddy.md, "the marker").
 */
export const SERVICE_MARKER = 'UPKEEPER_MARKER';
