import { ERROR_CODE_PATTERN } from '@vlab/core';
import { describeErrorsDoc } from '@vlab/test-utils';
import { IMAGE_STORE_ERROR_CODES, RETIRED_IMAGE_STORE_ERROR_CODES } from '../src/errors.js';

describeErrorsDoc({
  section: '@vlab/image-store',
  codes: IMAGE_STORE_ERROR_CODES,
  retired: RETIRED_IMAGE_STORE_ERROR_CODES,
  retiredName: 'RETIRED_IMAGE_STORE_ERROR_CODES',
  source: 'IMAGE_STORE_ERROR_CODES (packages/image-store/src/errors.ts)',
  pattern: ERROR_CODE_PATTERN,
});
