package owlet.connect;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.sparkproject.connect.grpc.Metadata;
import org.sparkproject.connect.grpc.ServerCall;
import org.sparkproject.connect.grpc.ServerCallHandler;
import org.sparkproject.connect.grpc.ServerInterceptor;
import org.sparkproject.connect.grpc.Status;

/**
 * The token check Spark 4's Connect server has and Spark 3.5's lacks: every call must carry
 * {@code authorization: Bearer <token>}, the token being the driver's SPARK_CONNECT_AUTHENTICATE_TOKEN (the
 * variable Spark 4 reads for {@code spark.connect.authenticate.token}). Without that variable every call is
 * refused. Spark 3.5 loads it through {@code spark.connect.grpc.interceptor.classes} (no-argument constructor);
 * the gRPC classes are the ones the spark-connect jar shades.
 */
public final class TokenInterceptor implements ServerInterceptor {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final byte[] expected;

  public TokenInterceptor() {
    String token = System.getenv("SPARK_CONNECT_AUTHENTICATE_TOKEN");
    expected = token == null || token.isEmpty() ? null : ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String given = headers.get(AUTHORIZATION);
    // Compared in constant time, so that the answer's timing tells nothing of the token.
    if (expected == null || given == null
        || !MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8))) {
      call.close(Status.UNAUTHENTICATED.withDescription("Invalid authentication token"), new Metadata());
      return new ServerCall.Listener<Q>() {};
    }
    return next.startCall(call, headers);
  }
}
