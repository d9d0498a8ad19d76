import { ERROR_CODE_PATTERN } from '@vlab/core';
import { describeErrorsDoc } from '@vlab/test-utils';
import { RETIRED_WINDOWS_ERROR_CODES, WINDOWS_ERROR_CODES } from '../src/errors.js';

// docs/errors.md documents every @vlab/os-windows code under "## @vlab/os-windows"; this keeps both in step.
describeErrorsDoc({
  section: '@vlab/os-windows',
  codes: WINDOWS_ERROR_CODES,
  retired: RETIRED_WINDOWS_ERROR_CODES,
  retiredName: 'RETIRED_WINDOWS_ERROR_CODES',
  source: 'WINDOWS_ERROR_CODES (packages/os-windows/src/errors.ts)',
  pattern: ERROR_CODE_PATTERN,
});
