export { describeErrorsDoc, type ErrorsDocOptions } from './errors-doc.js';
export { type ExampleRun, readmeExample, runReadmeExample } from './readme-example.js';
