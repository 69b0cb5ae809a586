// What the owner of a connection to the controller hears besides answers (a Client's, a subscription's).
import type { ClientNotifications } from '../schema/client-protocol.js';
import type { NotificationHandlers } from '../schema/rpc.js';

/** What a connection's owner hears besides answers: notifications (each checked first), and the end of the connection. */
export interface ConnectionHooks {
  notifications?: NotificationHandlers<ClientNotifications>;
  onClose?: () => void;
}
