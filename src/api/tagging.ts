// TagResource, UntagResource, ListTagsForResource. Resources are named by ARN; Owlet tags workgroups
// (`arn:aws:athena:<region>:<account>:workgroup/<name>`, the format of spec/athena-api.md §3.4).
import type { Tag } from '../generated/athena-model.js';
import { InvalidRequestError, ResourceNotFoundError } from '../protocol/errors.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import type { StateStore } from '../store/state-store.js';
import { pageOf } from './pagination.js';
import { changeWorkGroup, loadWorkGroup, type WorkGroupRecord, WorkGroupNotFoundError } from './workgroups.js';

/** Athena allows 50 tags on a resource (UG "Tag restrictions"). */
export const MAX_TAGS_PER_RESOURCE = 50;

/** Merges `added` into `existing` (a key given again takes the new value) and checks the result. */
export function checkNewTags(existing: readonly Tag[], added: readonly Tag[]): Tag[] {
  const merged = new Map(existing.map((t) => [t.Key!, t.Value ?? '']));
  const seen = new Set<string>();
  for (const tag of added) {
    if (tag.Key === undefined || tag.Key === '') throw new InvalidRequestError('Tag keys must not be empty.');
    if (seen.has(tag.Key)) throw new InvalidRequestError(`Tag key ${tag.Key} is given more than once.`);
    if (tag.Key.toLowerCase().startsWith('aws:')) {
      throw new InvalidRequestError(`Tag key ${tag.Key} uses the reserved prefix aws:.`);
    }
    seen.add(tag.Key);
    merged.set(tag.Key, tag.Value ?? '');
  }
  if (merged.size > MAX_TAGS_PER_RESOURCE) {
    throw new InvalidRequestError(`A resource can have at most ${MAX_TAGS_PER_RESOURCE} tags; this request would give it ${merged.size}.`);
  }
  return [...merged].map(([Key, Value]) => ({ Key, Value }));
}

const WORKGROUP_ARN = /^arn:aws:athena:[a-z0-9-]+:(\d{12}):workgroup\/([a-zA-Z0-9._-]{1,128})$/;

export function taggingHandlers({ store, accountId }: { store: StateStore; accountId: string }): OperationHandlers {
  /** The workgroup an ARN names. Any region is this server's region; another account's resources are not here. */
  const workGroupOfArn = (arn: string): string => {
    const match = WORKGROUP_ARN.exec(arn);
    if (!match || match[1] !== accountId) throw new ResourceNotFoundError(`Resource ${arn} is not found.`, arn);
    return match[2]!;
  };

  const notFound = async <T>(arn: string, action: (name: string) => Promise<T>): Promise<T> => {
    const name = workGroupOfArn(arn);
    try {
      return await action(name);
    } catch (error) {
      if (error instanceof WorkGroupNotFoundError) {
        throw new ResourceNotFoundError(`Resource ${arn} is not found.`, arn);
      }
      throw error;
    }
  };
  return {
    async TagResource(input) {
      await notFound(input.ResourceARN, (name) =>
        changeWorkGroup(store, name, (wg: WorkGroupRecord) => ({ ...wg, Tags: checkNewTags(wg.Tags, input.Tags) })),
      );
      return {};
    },
    async UntagResource(input) {
      const removed = new Set(input.TagKeys);
      await notFound(input.ResourceARN, (name) =>
        changeWorkGroup(store, name, (wg) => ({ ...wg, Tags: wg.Tags.filter((t) => !removed.has(t.Key!)) })),
      );
      return {};
    },
    async ListTagsForResource(input) {
      const wg = await notFound(input.ResourceARN, (name) => loadWorkGroup(store, name));
      const page = pageOf(`ListTagsForResource/${input.ResourceARN}`, wg.body.Tags, input.MaxResults ?? 100, input.NextToken);
      return { Tags: page.items, NextToken: page.nextToken };
    },
  };
}
