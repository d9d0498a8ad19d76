import { coreError } from './errors/core-errors.js';

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

/**
 * The end state `preCapture` is to reach: `requested`, or {@link DEFAULT_END_STATE} when none was
 * given. Throws `VLAB_ERR_CAPABILITY_MISSING` when the module does not offer it — call it first,
 * so a refused end state is refused before anything on the machine changes.
 * @param offered - The end states the module declares (`capabilities.endStates`).
 * @param module - The module's name, for the message (`os-linux`).
 * @param computer - The computer, for the error.
 * @public
 */
export function requestedEndState(
  requested: EndState | undefined,
  offered: readonly EndState[],
  module: string,
  computer: string,
): EndState {
  const endState = requested ?? DEFAULT_END_STATE;
  if (!offered.includes(endState)) {
    throw coreError(
      'VLAB_ERR_CAPABILITY_MISSING',
      `${module} does not offer the end state "${String(endState)}" (it offers ${offered.join(', ')})`,
      { computer },
    );
  }
  return endState;
}
