// The `owlet` command.
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULTS, loadConfig } from '../config/config.js';
import { READY_SPARK_WORKGROUP, startOwlet } from '../server.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return n;
}

async function serve(options: { host: string; port: number; dataDir: string; logLevel?: string; terminateSessionsOnExit?: boolean }): Promise<void> {
  const config = loadConfig(options);
  const owlet = await startOwlet(config);
  // Installed before the banner is printed: whoever waits for the banner may signal at once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    owlet.log.info({ signal }, 'stopping');
    owlet.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        owlet.log.error({ err: error }, 'could not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const { credentials } = config;
  const lines = [
    `Owlet is serving the Athena API at ${owlet.endpoint}`,
    `  data directory:    ${config.dataDir}`,
    `  region:            ${config.region} (any region works; it only names the signing scope)`,
    `  access key id:     ${credentials.accessKeyId}`,
    `  secret access key: ${credentials.secretAccessKey}`,
    `  Spark workgroup:   ${READY_SPARK_WORKGROUP}`,
    `  Spark Connect:     ${owlet.connectEndpoint} (GetSessionEndpoint's EndpointUrl)`,
    // Clients of Connect over TLS trust Owlet's authority through gRPC's own setting (docs/spark-connect.md).
    ...(owlet.connectCaFile ? [`  Spark Connect CA:  ${owlet.connectCaFile} (trust it: GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=${owlet.connectCaFile})`] : []),
    '',
    'Try it:',
    `  export AWS_ACCESS_KEY_ID=${credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${credentials.secretAccessKey} AWS_DEFAULT_REGION=${config.region}`,
    `  aws athena list-work-groups --endpoint-url ${owlet.endpoint}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

const program = new Command('owlet')
  .description('A self-hosted Amazon Athena for Apache Spark.')
  .showHelpAfterError();

program
  .command('server')
  .description('Start the server: the Athena API over the AWS wire protocol.')
  .option('--host <address>', 'address to listen on', DEFAULTS.host)
  .option('--port <number>', 'port to listen on (0 picks a free one)', port, DEFAULTS.port)
  .option('--data-dir <path>', 'where state, results and generated credentials are kept', DEFAULTS.dataDir)
  .option('--log-level <level>', 'fatal, error, warn, info, debug or trace')
  .option(
    '--terminate-sessions-on-exit',
    'end every session when the server stops (by default their runners keep running and the next start re-attaches them)',
  )
  .addHelpText(
    'after',
    '\nEnvironment:\n  OWLET_ACCESS_KEY_ID, OWLET_SECRET_ACCESS_KEY  the key pair clients sign with (otherwise one is generated\n                                                and kept in the data directory)\n  OWLET_ACCOUNT_ID, OWLET_REGION                the account and region in ARNs',
  )
  .action(serve);

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`owlet: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
