// The answer of every operation of the model that has no handler. Spark operations that a later release
// implements say so; Athena SQL operations are outside what Owlet serves. Either way the caller gets an
// InvalidRequestException it can read, never UnknownOperationException for an operation the model has.
import type { OperationName } from '../generated/athena-model.js';
import { InvalidRequestError } from '../protocol/errors.js';

/** The Athena for Apache Spark operations besides workgroups, tags and the catalog calls. */
export const SPARK_OPERATIONS: ReadonlySet<OperationName> = new Set<OperationName>([
  'StartSession',
  'GetSession',
  'GetSessionStatus',
  'ListSessions',
  'TerminateSession',
  'GetSessionEndpoint',
  'GetResourceDashboard',
  'ListExecutors',
  'StartCalculationExecution',
  'GetCalculationExecution',
  'GetCalculationExecutionStatus',
  'GetCalculationExecutionCode',
  'ListCalculationExecutions',
  'StopCalculationExecution',
  'CreateNotebook',
  'ImportNotebook',
  'ExportNotebook',
  'GetNotebookMetadata',
  'ListNotebookMetadata',
  'UpdateNotebook',
  'UpdateNotebookMetadata',
  'DeleteNotebook',
  'ListNotebookSessions',
  'CreatePresignedNotebookUrl',
]);

export function unavailableOperation(operation: OperationName): InvalidRequestError {
  if (SPARK_OPERATIONS.has(operation)) {
    return new InvalidRequestError(`${operation} is not available in this version of Owlet yet.`);
  }
  return new InvalidRequestError(
    `${operation} is an Athena SQL operation. Owlet serves Amazon Athena for Apache Spark (workgroups, sessions, calculations and notebooks), not SQL queries.`,
  );
}
