import { type ErrorCodeInfo, VlabError, type VlabErrorOptions } from '@vlab/core';

/**
 * The error codes of `@vlab/os-windows`: only conditions of Windows itself. Where a core code fits
 * (`VLAB_ERR_CONFIG_INVALID`, `VLAB_ERR_COMMAND_FAILED`, `VLAB_ERR_POWER_UNCONFIRMED`, …) the
 * module throws the core code.
 * @public
 */
export const WINDOWS_ERROR_CODES = {
  VLAB_ERR_WINDOWS_SYSPREP_FAILED: {
    meaning:
      'sysprep /generalize failed: it exited non-zero, returned (end state "on") without leaving ImageState at IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE, or never reached the end state while setuperr.log reports errors; details hold the relevant lines of setuperr.log and setupact.log.',
    hint: 'Read the log lines in the details (C:\\Windows\\System32\\Sysprep\\Panther on the machine): remove the AppX package installed for one user only, finish pending updates with a reboot, or rebuild an image whose rearm count is used up; then capture again.',
  },
  VLAB_ERR_WINDOWS_SETUP_INCOMPLETE: {
    meaning:
      'Windows Setup (specialize and OOBE after sysprep) did not reach IMAGE_STATE_COMPLETE in time, or the machine was generalized and has not booted since, so postLoad could not prepare it.',
    hint: 'Generalized and not booted since (a capture with end state "on"): boot the machine, then run postLoad again. Otherwise look at the machine\'s console: OOBE may be waiting for input the answer file did not give (a locale, a license page); reload the computer, and if it happens again, recapture the image.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/**
 * Codes `@vlab/os-windows` once threw and no longer does; never reused (docs/errors.md lists
 * them under "Retired codes").
 * @public
 */
export const RETIRED_WINDOWS_ERROR_CODES: readonly string[] = [];

/** An error code of `@vlab/os-windows`. @public */
export type WindowsErrorCode = keyof typeof WINDOWS_ERROR_CODES;

/**
 * Makes a `VlabError` with one of the `@vlab/os-windows` codes; the hint defaults to the
 * documented one. Messages never carry a secret.
 * @public
 */
export function windowsError(
  code: WindowsErrorCode,
  summary: string,
  options: VlabErrorOptions = {},
): VlabError {
  return new VlabError(code, summary, {
    ...options,
    hint: options.hint ?? WINDOWS_ERROR_CODES[code].hint,
  });
}
