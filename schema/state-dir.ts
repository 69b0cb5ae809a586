// The names of the controller's files in StateDir: one definition for controller, libclient and tools.
// docs/run-directory.md documents each of them.

export const STATE_DIR = {
  /** The client socket (0600). */
  socket: 'controller.sock',
  /** The socket buddies reach the controller on when their events cannot wait for a poll (0600). */
  buddySocket: 'buddies.sock',
  /** Who holds the controller lock: ControllerInfo as JSON, written whole. */
  info: 'controller.json',
  /** An SQLite file held with an exclusive lock while a controller runs: one controller per StateDir. */
  lock: 'controller.lock',
  /** The audit database (with its -wal and -shm files). */
  database: 'upkeeper.db',
  /** The controller's log when `upk controller start` runs it in the background. */
  log: 'controller.log',
  /** Held (created exclusively, holding its pid) by the upk command that changes the service files. */
  editLock: 'upk-edit.lock',
  /** The bearer token `upk serve` asks of every request on a TCP listener (0600, created at its first use). */
  httpToken: 'http-token',
  /** Where `upk serve` listens by default (0600). */
  httpSocket: 'http.sock',
} as const;
