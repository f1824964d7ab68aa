// How the Jupyter server reaches Athena's objects: through the same operation handlers the AWS API serves
// (so a cell run is a StartCalculationExecution like any other, listed by ListCalculationExecutions), and
// through the result store for a calculation's files.
import { randomUUID } from 'node:crypto';
import type { OperationName, OperationTypes } from '../generated/athena-model.js';
import type { JsonService } from '../protocol/json-service.js';
import { parseS3Uri, type ResultStore } from '../results/result-store.js';

export interface AthenaAccess {
  call<Op extends OperationName>(operation: Op, input: OperationTypes[Op]['input']): Promise<OperationTypes[Op]['output']>;
  /** The local directory a running calculation's stdout.txt and stderr.txt grow in, when this node runs it. */
  liveDirectory(workingDirectory: string, calculationId: string): Promise<string | undefined>;
  /** An object of the result store by its s3:// URI (a calculation's files), or undefined when absent. */
  read(uri: string): Promise<Uint8Array | undefined>;
}

export function athenaAccess(service: JsonService, results: ResultStore, accessKeyId: () => string, region: string): AthenaAccess {
  return {
    call(operation, input) {
      return service.invoke(operation, input, {
        requestId: randomUUID(),
        receivedAt: Date.now(),
        caller: { accessKeyId: accessKeyId(), region, service: 'athena' },
      });
    },
    async liveDirectory(workingDirectory, calculationId) {
      try {
        return await results.stagingDirectory(parseS3Uri(workingDirectory), calculationId);
      } catch {
        return undefined;
      }
    },
    read(uri) {
      return results.read(parseS3Uri(uri));
    },
  };
}
