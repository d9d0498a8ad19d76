/**
 * Where `preCapture` leaves the machine:
 * - `off` (the default): generalized, shut down, power off confirmed through `ctx.power`;
 * - `reboot`: generalized, a reboot started and the machine confirmed gone down; what boots next
 *   is the provisioner's business (a capture environment, say);
 * - `on`: generalized and left running.
 * @public
 */
export type EndState = 'on' | 'off' | 'reboot';

/** Every end state, in documentation order. @public */
export const END_STATES: readonly EndState[] = ['off', 'reboot', 'on'];

/** The end state `preCapture` reaches when none is given. @public */
export const DEFAULT_END_STATE: EndState = 'off';
