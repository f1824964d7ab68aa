package owlet.commit;

import org.apache.hadoop.mapreduce.JobContext;
import org.apache.spark.internal.io.FileCommitProtocol;
import scala.collection.immutable.Seq;

/**
 * SchemeCommitProtocolBase (runtimes/commit-protocol/) for Spark 4.1: FileCommitProtocol.commitJob takes Scala
 * 2.13's scala.collection.immutable.Seq. Spark instantiates it by this constructor (FileCommitProtocol.instantiate).
 */
public final class SchemeCommitProtocol extends SchemeCommitProtocolBase {
  private static final long serialVersionUID = 1L;

  public SchemeCommitProtocol(String jobId, String path, boolean dynamicPartitionOverwrite) {
    super(jobId, path, dynamicPartitionOverwrite);
  }

  @Override
  public void commitJob(JobContext jobContext, Seq<FileCommitProtocol.TaskCommitMessage> taskCommits) {
    delegate.commitJob(jobContext, taskCommits);
  }
}
