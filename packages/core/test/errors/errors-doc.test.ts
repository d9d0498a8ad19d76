import { describeErrorsDoc } from '@vlab/test-utils';
import { CORE_ERROR_CODES, RETIRED_CORE_ERROR_CODES } from '../../src/errors/core-errors.js';
import { ERROR_CODE_PATTERN } from '../../src/errors/vlab-error.js';

describeErrorsDoc({
  section: '@vlab/core',
  codes: CORE_ERROR_CODES,
  retired: RETIRED_CORE_ERROR_CODES,
  retiredName: 'RETIRED_CORE_ERROR_CODES',
  source: 'CORE_ERROR_CODES (packages/core/src/errors/core-errors.ts)',
  pattern: ERROR_CODE_PATTERN,
});
