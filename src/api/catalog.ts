// ListEngineVersions and ListApplicationDPUSizes: what Owlet can run.
import type { EngineVersion } from '../generated/athena-model.js';
import type { OperationHandlers } from '../protocol/json-service.js';
import { pageOf } from './pagination.js';

export interface EngineVersionInfo {
  selected: string;
  effective: string;
  /** Whether a workgroup with this version runs Apache Spark (sessions) rather than Athena SQL. */
  spark: boolean;
}

/**
 * The engine versions a workgroup can select. The two Spark versions are Athena's (spec/athena-api.md
 * §3.5), both run on Spark 3.5, and Owlet adds one for Spark 4; src/engine/runtimes.ts says which Spark each runs. The SQL versions are listed because workgroups may
 * be SQL workgroups (the `primary` one is), though Owlet runs no SQL queries.
 */
export const ENGINE_VERSIONS: readonly EngineVersionInfo[] = [
  { selected: 'AUTO', effective: 'Athena engine version 3', spark: false },
  { selected: 'Athena engine version 3', effective: 'Athena engine version 3', spark: false },
  { selected: 'PySpark engine version 3', effective: 'PySpark engine version 3', spark: true },
  { selected: 'Apache Spark version 3.5', effective: 'Apache Spark version 3.5', spark: true },
  // Owlet's own Spark 4 engine (src/engine/runtimes.ts, docs/engines.md).
  { selected: 'Apache Spark version 4.1', effective: 'Apache Spark version 4.1', spark: true },
];

export function engineVersionInfo(selected: string): EngineVersionInfo | undefined {
  return ENGINE_VERSIONS.find((v) => v.selected === selected);
}

export const toEngineVersion = (v: EngineVersionInfo): EngineVersion => ({
  SelectedEngineVersion: v.selected,
  EffectiveEngineVersion: v.effective,
});

/** Athena's notebook runtime, with the one DPU size its coordinators and executors have (spec §5). */
const APPLICATION_DPU_SIZES = [{ ApplicationRuntimeId: 'Athena notebook version 1', SupportedDPUSizes: [1] }];

export function catalogHandlers(): OperationHandlers {
  return {
    async ListEngineVersions(input) {
      const page = pageOf('ListEngineVersions', ENGINE_VERSIONS.map(toEngineVersion), input.MaxResults ?? 10, input.NextToken);
      return { EngineVersions: page.items, NextToken: page.nextToken };
    },
    async ListApplicationDPUSizes(input) {
      const page = pageOf('ListApplicationDPUSizes', APPLICATION_DPU_SIZES, input.MaxResults ?? 100, input.NextToken);
      return { ApplicationDPUSizes: page.items, NextToken: page.nextToken };
    },
  };
}
