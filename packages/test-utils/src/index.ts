export { describeErrorsDoc, type ErrorsDocOptions } from './errors-doc.js';
