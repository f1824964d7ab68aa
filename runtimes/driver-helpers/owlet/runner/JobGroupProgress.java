package owlet.runner;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.apache.spark.JobExecutionStatus;
import org.apache.spark.SparkJobInfo;
import org.apache.spark.SparkStageInfo;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.JavaSparkStatusTracker;

/**
 * A calculation's progress, read on the driver in one call from the runner (runner/owlet_runner/progress.py).
 *
 * <p>Read from Python, the same numbers take a py4j round trip for every job, stage and field: about 18 for
 * {@code spark.range(1000).count()}, whose final reading delayed each calculation's end by a few milliseconds
 * (docs/performance.md). Here the status tracker is read where it lives, and the answer crosses once, as text.
 */
public final class JobGroupProgress {
  /** How long a final reading waits for Spark's listeners; a deadline for a stuck bus, never reached otherwise. */
  private static final long SETTLE_TIMEOUT_MILLIS = 2000;

  private JobGroupProgress() {}

  /**
   * {@link #measure} once Spark's listener bus has delivered every event posted so far. The status tracker
   * learns that a job ended from a listener, after the action that ran the job has returned: read at once, the
   * last job of a calculation can still show as running, with a stage it skipped at 0 tasks done. A bus that
   * does not drain in time gives the reading as it is.
   */
  public static String measureSettled(JavaSparkContext context, String jobGroup) {
    try {
      context.sc().listenerBus().waitUntilEmpty(SETTLE_TIMEOUT_MILLIS);
    } catch (TimeoutException busy) {
      // The numbers as they are: progress is a report, not a reason to delay the calculation's end further.
    }
    return measure(context, jobGroup);
  }

  /**
   * {@code "<done> <total>"}: the tasks of every stage of the group's jobs, each stage counted once even when
   * several jobs share it. A stage a job skipped (its shuffle output already existed) never completes a task,
   * so every stage of a job that succeeded counts as done; otherwise a finished calculation could stay at,
   * say, 2 of 3 forever. Jobs and stages the tracker no longer holds are left out.
   */
  public static String measure(JavaSparkContext context, String jobGroup) {
    JavaSparkStatusTracker tracker = context.statusTracker();
    Map<Integer, int[]> stages = new HashMap<>();
    for (int jobId : tracker.getJobIdsForGroup(jobGroup)) {
      SparkJobInfo job = tracker.getJobInfo(jobId);
      if (job == null) {
        continue;
      }
      boolean succeeded = job.status() == JobExecutionStatus.SUCCEEDED;
      for (int stageId : job.stageIds()) {
        SparkStageInfo stage = tracker.getStageInfo(stageId);
        if (stage == null) {
          continue;
        }
        int total = stage.numTasks();
        int done = succeeded ? total : Math.min(stage.numCompletedTasks(), total);
        int[] known = stages.get(stageId);
        if (known != null) {
          done = Math.max(done, known[0]);
        }
        stages.put(stageId, new int[] {done, total});
      }
    }
    long done = 0;
    long total = 0;
    for (int[] stage : stages.values()) {
      done += stage[0];
      total += stage[1];
    }
    return done + " " + total;
  }
}
