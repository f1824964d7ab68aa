// Workgroups: CreateWorkGroup, GetWorkGroup, ListWorkGroups, UpdateWorkGroup, DeleteWorkGroup.
// A workgroup is a Spark workgroup or an Athena SQL workgroup by its engine version, chosen at creation;
// only Spark workgroups run sessions. Messages quoted from the real service carry their source.
import type {
  Tag,
  WorkGroup,
  WorkGroupConfiguration,
  WorkGroupConfigurationUpdates,
  WorkGroupState,
} from '../generated/athena-model.js';
import { InvalidRequestError } from '../protocol/errors.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import { LIVE_SESSION_STATES } from '../sessions/states.js';
import { RecordExistsError, type StateStore, type StoredRecord, VersionConflictError } from '../store/state-store.js';
import { engineVersionInfo, toEngineVersion } from './catalog.js';
import { decodeNextToken, encodeNextToken } from './pagination.js';
import { checkNewTags } from './tagging.js';

/** The stored form of a workgroup. */
export interface WorkGroupRecord {
  Name: string;
  State: WorkGroupState;
  Description?: string;
  /** Milliseconds since the epoch. */
  CreationTime: number;
  Configuration: WorkGroupConfiguration;
  Tags: Tag[];
}

export const PRIMARY_WORKGROUP = 'primary';

export function isSparkWorkGroup(wg: WorkGroupRecord): boolean {
  return engineVersionInfo(wg.Configuration.EngineVersion?.SelectedEngineVersion ?? 'AUTO')?.spark ?? false;
}

/** `WorkGroup <name> is not found.`: the real service's answer for an unknown workgroup (floci-io/floci#1301). */
export class WorkGroupNotFoundError extends InvalidRequestError {
  constructor(readonly workGroup: string) {
    super(`WorkGroup ${workGroup} is not found.`);
  }
}

export async function loadWorkGroup(store: StateStore, name: string): Promise<StoredRecord<WorkGroupRecord>> {
  const record = await store.get<WorkGroupRecord>('workgroup', name);
  if (!record) throw new WorkGroupNotFoundError(name);
  return record;
}

/** Applies `change` to the stored workgroup, retrying when another request changed it in between. */
export async function changeWorkGroup(
  store: StateStore,
  name: string,
  change: (wg: WorkGroupRecord) => WorkGroupRecord,
): Promise<WorkGroupRecord> {
  for (let attempt = 0; ; attempt++) {
    const record = await loadWorkGroup(store, name);
    const body = change(structuredClone(record.body));
    try {
      return (await store.update('workgroup', name, record.version, { body })).body;
    } catch (error) {
      if (!(error instanceof VersionConflictError) || attempt >= 10) throw error;
    }
  }
}

/**
 * Athena's answer for an output location that is not an S3 URI, as its SQL API words it for
 * `ResultConfiguration.OutputLocation`.
 */
function checkOutputLocation(location: string | undefined): void {
  if (location === undefined) return;
  if (!/^s3:\/\/[^/]+(\/.*)?$/.test(location)) {
    throw new InvalidRequestError(
      'The S3 location provided to save your query results is invalid. Please check your S3 location is correct and is in the same region and try again. If you continue to see the issue, contact customer support for further assistance.',
    );
  }
}

function resolveEngineVersion(configuration: WorkGroupConfiguration): void {
  const selected = configuration.EngineVersion?.SelectedEngineVersion ?? 'AUTO';
  const info = engineVersionInfo(selected);
  if (!info) {
    throw new InvalidRequestError(
      `The engine version ${selected} is not valid. Choose one of the versions ListEngineVersions returns.`,
    );
  }
  configuration.EngineVersion = toEngineVersion(info);
}

function checkConfiguration(configuration: WorkGroupConfiguration): void {
  const spark = engineVersionInfo(configuration.EngineVersion!.SelectedEngineVersion!)!.spark;
  // terraform-provider-aws#28386: creating a PySpark workgroup without a role fails with this message.
  if (spark && !configuration.ExecutionRole) throw new InvalidRequestError('executionRole is null or empty');
  checkOutputLocation(configuration.ResultConfiguration?.OutputLocation);
  if (configuration.ManagedQueryResultsConfiguration?.Enabled && configuration.ResultConfiguration?.OutputLocation) {
    throw new InvalidRequestError(
      'ManagedQueryResultsConfiguration and ResultConfiguration.OutputLocation cannot both be set: choose one place for results.',
    );
  }
}

/** A new workgroup's configuration: what the request gave, with the engine version resolved and defaults filled. */
export function newConfiguration(given: WorkGroupConfiguration | undefined, enforce = true): WorkGroupConfiguration {
  const configuration: WorkGroupConfiguration = {
    ResultConfiguration: {},
    EnforceWorkGroupConfiguration: enforce,
    PublishCloudWatchMetricsEnabled: false,
    RequesterPaysEnabled: false,
    EnableMinimumEncryptionConfiguration: false,
    ...structuredClone(given ?? {}),
  };
  resolveEngineVersion(configuration);
  checkConfiguration(configuration);
  return configuration;
}

function applyUpdates(name: string, current: WorkGroupConfiguration, updates: WorkGroupConfigurationUpdates): WorkGroupConfiguration {
  const next = structuredClone(current);
  const conflict = (a: string, b: string): never => {
    throw new InvalidRequestError(`${a} and ${b} cannot both be set in one update.`);
  };

  const rc = updates.ResultConfigurationUpdates;
  if (rc) {
    const result = (next.ResultConfiguration ??= {});
    if (rc.OutputLocation !== undefined && rc.RemoveOutputLocation) conflict('OutputLocation', 'RemoveOutputLocation');
    if (rc.OutputLocation !== undefined) result.OutputLocation = rc.OutputLocation;
    if (rc.RemoveOutputLocation) delete result.OutputLocation;
    if (rc.EncryptionConfiguration !== undefined && rc.RemoveEncryptionConfiguration) {
      conflict('EncryptionConfiguration', 'RemoveEncryptionConfiguration');
    }
    if (rc.EncryptionConfiguration !== undefined) result.EncryptionConfiguration = rc.EncryptionConfiguration;
    if (rc.RemoveEncryptionConfiguration) delete result.EncryptionConfiguration;
    if (rc.ExpectedBucketOwner !== undefined && rc.RemoveExpectedBucketOwner) conflict('ExpectedBucketOwner', 'RemoveExpectedBucketOwner');
    if (rc.ExpectedBucketOwner !== undefined) result.ExpectedBucketOwner = rc.ExpectedBucketOwner;
    if (rc.RemoveExpectedBucketOwner) delete result.ExpectedBucketOwner;
    if (rc.AclConfiguration !== undefined && rc.RemoveAclConfiguration) conflict('AclConfiguration', 'RemoveAclConfiguration');
    if (rc.AclConfiguration !== undefined) result.AclConfiguration = rc.AclConfiguration;
    if (rc.RemoveAclConfiguration) delete result.AclConfiguration;
  }

  const mq = updates.ManagedQueryResultsConfigurationUpdates;
  if (mq) {
    const managed = (next.ManagedQueryResultsConfiguration ??= { Enabled: false });
    if (mq.Enabled !== undefined) managed.Enabled = mq.Enabled;
    if (mq.EncryptionConfiguration !== undefined && mq.RemoveEncryptionConfiguration) {
      conflict('EncryptionConfiguration', 'RemoveEncryptionConfiguration');
    }
    if (mq.EncryptionConfiguration !== undefined) managed.EncryptionConfiguration = mq.EncryptionConfiguration;
    if (mq.RemoveEncryptionConfiguration) delete managed.EncryptionConfiguration;
  }

  if (updates.BytesScannedCutoffPerQuery !== undefined && updates.RemoveBytesScannedCutoffPerQuery) {
    conflict('BytesScannedCutoffPerQuery', 'RemoveBytesScannedCutoffPerQuery');
  }
  if (updates.BytesScannedCutoffPerQuery !== undefined) next.BytesScannedCutoffPerQuery = updates.BytesScannedCutoffPerQuery;
  if (updates.RemoveBytesScannedCutoffPerQuery) delete next.BytesScannedCutoffPerQuery;

  if (updates.CustomerContentEncryptionConfiguration !== undefined && updates.RemoveCustomerContentEncryptionConfiguration) {
    conflict('CustomerContentEncryptionConfiguration', 'RemoveCustomerContentEncryptionConfiguration');
  }
  if (updates.CustomerContentEncryptionConfiguration !== undefined) {
    next.CustomerContentEncryptionConfiguration = updates.CustomerContentEncryptionConfiguration;
  }
  if (updates.RemoveCustomerContentEncryptionConfiguration) delete next.CustomerContentEncryptionConfiguration;

  // Members replaced as a whole when given.
  for (const member of [
    'EnforceWorkGroupConfiguration',
    'PublishCloudWatchMetricsEnabled',
    'RequesterPaysEnabled',
    'AdditionalConfiguration',
    'ExecutionRole',
    'EnableMinimumEncryptionConfiguration',
    'QueryResultsS3AccessGrantsConfiguration',
    'MonitoringConfiguration',
    'EngineConfiguration',
  ] as const) {
    if (updates[member] !== undefined) (next as Record<string, unknown>)[member] = updates[member];
  }

  if (updates.EngineVersion !== undefined) {
    const wasSpark = engineVersionInfo(current.EngineVersion?.SelectedEngineVersion ?? 'AUTO')?.spark ?? false;
    next.EngineVersion = updates.EngineVersion;
    resolveEngineVersion(next);
    const isSpark = engineVersionInfo(next.EngineVersion.SelectedEngineVersion!)!.spark;
    // The analytics engine is fixed at creation ("an Athena engine version 3 workgroup cannot be changed
    // to a PySpark engine version 3 workgroup", UG notebooks-spark-getting-started).
    if (wasSpark !== isSpark) {
      const from = wasSpark ? 'Apache Spark' : 'Athena SQL';
      throw new InvalidRequestError(
        `WorkGroup ${name} uses ${from}; the analytics engine of a workgroup is chosen when it is created and cannot be changed.`,
      );
    }
  }
  checkConfiguration(next);
  return next;
}

function toWorkGroup(wg: WorkGroupRecord): WorkGroup {
  return {
    Name: wg.Name,
    State: wg.State,
    Configuration: wg.Configuration,
    Description: wg.Description,
    CreationTime: new Date(wg.CreationTime),
  };
}

/** The default page size of ListWorkGroups: the model's maximum. */
const LIST_WORKGROUPS_PAGE = 50;

export interface WorkGroupDeps {
  store: StateStore;
  now: () => number;
}

export async function createWorkGroup(
  store: StateStore,
  wg: Omit<WorkGroupRecord, 'Configuration'> & { Configuration?: WorkGroupConfiguration },
): Promise<StoredRecord<WorkGroupRecord>> {
  const body: WorkGroupRecord = {
    ...wg,
    Configuration: newConfiguration(wg.Configuration, wg.Name !== PRIMARY_WORKGROUP),
  };
  return store.create<WorkGroupRecord>({ kind: 'workgroup', id: wg.Name, createdAt: wg.CreationTime, body });
}

export function workGroupHandlers({ store, now }: WorkGroupDeps): OperationHandlers {
  return {
    async CreateWorkGroup(input) {
      // terraform-provider-aws#37845: "primary workGroup could not be created".
      if (input.Name === PRIMARY_WORKGROUP) throw new InvalidRequestError('primary workGroup could not be created');
      const tags = checkNewTags([], input.Tags ?? []);
      try {
        await createWorkGroup(store, {
          Name: input.Name,
          State: 'ENABLED',
          Description: input.Description,
          CreationTime: now(),
          Configuration: input.Configuration,
          Tags: tags,
        });
      } catch (error) {
        if (error instanceof RecordExistsError) {
          throw new InvalidRequestError(`WorkGroup ${input.Name} is already created.`);
        }
        throw error;
      }
      return {};
    },

    async GetWorkGroup(input) {
      const record = await loadWorkGroup(store, input.WorkGroup);
      return { WorkGroup: toWorkGroup(record.body) };
    },

    async ListWorkGroups(input) {
      const page = await store.list<WorkGroupRecord>({
        kind: 'workgroup',
        order: 'id',
        limit: input.MaxResults ?? LIST_WORKGROUPS_PAGE,
        after: decodeNextToken('ListWorkGroups', input.NextToken),
      });
      return {
        WorkGroups: page.records.map(({ body }) => ({
          Name: body.Name,
          State: body.State,
          Description: body.Description,
          CreationTime: new Date(body.CreationTime),
          EngineVersion: body.Configuration.EngineVersion,
        })),
        NextToken: page.cursor === undefined ? undefined : encodeNextToken('ListWorkGroups', page.cursor),
      };
    },

    async UpdateWorkGroup(input) {
      await changeWorkGroup(store, input.WorkGroup, (wg) => {
        if (input.Description !== undefined) wg.Description = input.Description;
        if (input.State !== undefined) wg.State = input.State;
        if (input.ConfigurationUpdates !== undefined) {
          wg.Configuration = applyUpdates(wg.Name, wg.Configuration, input.ConfigurationUpdates);
        }
        return wg;
      });
      return {};
    },

    async DeleteWorkGroup(input) {
      const name = input.WorkGroup;
      if (name === PRIMARY_WORKGROUP) throw new InvalidRequestError('primary workGroup could not be deleted');
      // DeleteWorkGroup is idempotent in the model: deleting a workgroup that is not there succeeds.
      if (!(await store.get('workgroup', name))) return {};
      const contents = ['notebook', 'session'] as const;
      if (!input.RecursiveDeleteOption) {
        for (const kind of contents) {
          const page = await store.list({ kind, parent: name, order: 'id', limit: 1 });
          if (page.records.length > 0) {
            throw new InvalidRequestError(
              `WorkGroup ${name} is not empty: it has ${kind}s. Delete them first, or set RecursiveDeleteOption to delete the workgroup with its contents.`,
            );
          }
        }
      } else {
        // A live session has a runner the records do not own: deleting its record would leave the runner
        // running, and its calculations with no session to finish in (found by the fuzzer: calculations stuck
        // QUEUED or RUNNING for good). Ending sessions is TerminateSession's, on the node that runs each:
        // a workgroup with live sessions is refused.
        const live = await store.list({ kind: 'session', parent: name, states: LIVE_SESSION_STATES, order: 'id', limit: 1 });
        if (live.records.length > 0) {
          throw new InvalidRequestError(
            `WorkGroup ${name} has an active session (${live.records[0]!.id}); terminate its sessions before deleting the workgroup.`,
          );
        }
        // The ended sessions go with their calculations, which are filed under the session.
        let after: string | undefined;
        do {
          const page = await store.list({ kind: 'session', parent: name, order: 'id', limit: 100, ...(after === undefined ? {} : { after }) });
          for (const session of page.records) await store.deleteChildren('calculation', session.id);
          after = page.cursor;
        } while (after !== undefined);
        for (const kind of contents) await store.deleteChildren(kind, name);
      }
      await store.delete('workgroup', name);
      return {};
    },
  };
}
