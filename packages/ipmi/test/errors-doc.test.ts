import { ERROR_CODE_PATTERN } from '@vlab/core';
import { describeErrorsDoc } from '@vlab/test-utils';
import { IPMI_ERROR_CODES, RETIRED_IPMI_ERROR_CODES } from '../src/errors.js';

// docs/errors.md documents every @vlab/ipmi code under "## @vlab/ipmi"; this keeps both in step.
describeErrorsDoc({
  section: '@vlab/ipmi',
  codes: IPMI_ERROR_CODES,
  retired: RETIRED_IPMI_ERROR_CODES,
  retiredName: 'RETIRED_IPMI_ERROR_CODES',
  source: 'IPMI_ERROR_CODES (packages/ipmi/src/errors.ts)',
  pattern: ERROR_CODE_PATTERN,
});
