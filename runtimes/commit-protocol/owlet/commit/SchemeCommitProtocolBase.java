package owlet.commit;

import java.io.Serializable;
import java.util.Locale;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.mapreduce.JobContext;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.spark.internal.io.FileCommitProtocol;
import org.apache.spark.internal.io.FileNameSpec;
import scala.Option;

/**
 * A commit protocol that hands a write to the protocol its output path needs (docs/s3.md, "The output
 * committer"): {@code spark.sql.sources.commitProtocolClass} is one setting for a whole session, and the
 * protocol that commits S3 writes safely (spark-hadoop-cloud's PathOutputCommitProtocol with S3A's magic
 * committer) appends where a dynamic partition overwrite must replace partitions (apache/spark SPARK-56588 for
 * Hadoop's FileOutputCommitter; Hadoop's MAPREDUCE-7403: no S3A committer can replace partitions).
 *
 * <ul>
 *   <li>s3, s3a and s3n paths: PathOutputCommitProtocol, which commits through the committer
 *       {@code mapreduce.outputcommitter.factory.scheme.<scheme>} names (S3A's magic committer);</li>
 *   <li>a dynamic partition overwrite of one of them: Spark's default protocol, which writes the partitions
 *       under a staging directory of the table and renames them into place at job commit (on S3 a copy);</li>
 *   <li>every other path (file://, hdfs://, none): Spark's default protocol, as without spark-hadoop-cloud.</li>
 * </ul>
 *
 * Spark builds the protocol on the driver and sends it to the tasks, so it is Serializable, as its delegates
 * are. Each runtime's SchemeCommitProtocol adds {@code commitJob}, whose Seq type differs between Scala 2.12
 * and 2.13.
 */
public abstract class SchemeCommitProtocolBase extends FileCommitProtocol implements Serializable {
  private static final long serialVersionUID = 1L;

  static final String CLOUD_PROTOCOL = "org.apache.spark.internal.io.cloud.PathOutputCommitProtocol";
  static final String DEFAULT_PROTOCOL =
      "org.apache.spark.sql.execution.datasources.SQLHadoopMapReduceCommitProtocol";

  protected final FileCommitProtocol delegate;

  protected SchemeCommitProtocolBase(String jobId, String path, boolean dynamicPartitionOverwrite) {
    String protocol = isS3(path) && !dynamicPartitionOverwrite ? CLOUD_PROTOCOL : DEFAULT_PROTOCOL;
    delegate = FileCommitProtocol.instantiate(protocol, jobId, path, dynamicPartitionOverwrite);
  }

  /** Whether a write's output path is S3A's: the schemes src/engine/runtimes.ts maps to S3AFileSystem. */
  static boolean isS3(String path) {
    if (path == null) {
      return false;
    }
    String scheme = new Path(path).toUri().getScheme();
    if (scheme == null) {
      return false;
    }
    switch (scheme.toLowerCase(Locale.ROOT)) {
      case "s3":
      case "s3a":
      case "s3n":
        return true;
      default:
        return false;
    }
  }

  @Override
  public void setupJob(JobContext jobContext) {
    delegate.setupJob(jobContext);
  }

  @Override
  public void abortJob(JobContext jobContext) {
    delegate.abortJob(jobContext);
  }

  @Override
  public void setupTask(TaskAttemptContext taskContext) {
    delegate.setupTask(taskContext);
  }

  @SuppressWarnings("deprecation")
  @Override
  public String newTaskTempFile(TaskAttemptContext taskContext, Option<String> dir, String ext) {
    return delegate.newTaskTempFile(taskContext, dir, ext);
  }

  @Override
  public String newTaskTempFile(TaskAttemptContext taskContext, Option<String> dir, FileNameSpec spec) {
    return delegate.newTaskTempFile(taskContext, dir, spec);
  }

  @SuppressWarnings("deprecation")
  @Override
  public String newTaskTempFileAbsPath(TaskAttemptContext taskContext, String absoluteDir, String ext) {
    return delegate.newTaskTempFileAbsPath(taskContext, absoluteDir, ext);
  }

  @Override
  public String newTaskTempFileAbsPath(TaskAttemptContext taskContext, String absoluteDir, FileNameSpec spec) {
    return delegate.newTaskTempFileAbsPath(taskContext, absoluteDir, spec);
  }

  @Override
  public FileCommitProtocol.TaskCommitMessage commitTask(TaskAttemptContext taskContext) {
    return delegate.commitTask(taskContext);
  }

  @Override
  public void abortTask(TaskAttemptContext taskContext) {
    delegate.abortTask(taskContext);
  }

  @Override
  public boolean deleteWithJob(FileSystem fs, Path path, boolean recursive) {
    return delegate.deleteWithJob(fs, path, recursive);
  }

  @Override
  public void onTaskCommit(FileCommitProtocol.TaskCommitMessage taskCommit) {
    delegate.onTaskCommit(taskCommit);
  }
}
