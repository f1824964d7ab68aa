// The AWS JSON 1.1 service core: routes `X-Amz-Target: <TargetPrefix>.<Operation>` to a handler, decodes and
// validates the input by the model, encodes the output by the model, and turns every failure into the
// service's error envelope. Handlers see typed inputs and outputs and never HTTP. One instance serves one
// generated model: Athena's (`AmazonAthena.*`) or Glue's (`AWSGlue.*`).
import type { Logger } from 'pino';
import { type OperationName, type OperationTypes, serviceModel as athenaModel } from '../generated/athena-model.js';
import type { RequestContext } from './context.js';
import {
  ForwardToNode,
  InternalServerError,
  InvalidRequestError,
  SerializationError,
  ServiceError,
  UnknownOperationError,
} from './errors.js';
import { InputDecoder, OutputEncoder, type ShapeTable, validationMessage } from './shapes.js';

/** Each operation's typed input and output, as a generated model's `OperationTypes` lists them. */
export type OperationTypeTable<T> = { [Op in keyof T]: { input: unknown; output: unknown } };

/** What the protocol layer needs of a generated model (its `serviceModel` export). */
export interface ServiceModel {
  targetPrefix: string;
  signingName: string;
  shapes: ShapeTable;
  operations: Readonly<Record<string, { input: string | null; output: string | null; errors: readonly string[] }>>;
}

export type OperationHandler<Op extends OperationName> = (
  input: OperationTypes[Op]['input'],
  context: RequestContext,
) => Promise<OperationTypes[Op]['output']>;

export type OperationHandlers = { [Op in OperationName]?: OperationHandler<Op> };

/** The handlers of any generated model's operations (Glue's, for one). */
export type ServiceHandlers<T extends OperationTypeTable<T>> = {
  [Op in keyof T]?: (input: T[Op]['input'], context: RequestContext) => Promise<T[Op]['output']>;
};

export interface JsonServiceOptions {
  /** The model served; Athena's by default. */
  model?: ServiceModel;
  /** The error a request that breaks the model's constraints ends in; Athena's InvalidRequestException by default. */
  invalidInput?: (message: string) => ServiceError;
}

export interface JsonServiceResponse {
  status: number;
  body: string;
  /** Set for error responses: the `__type`. */
  errorType?: string;
  /** Set when another server node answers this request: where it serves the API. */
  forwardTo?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isOperationName(name: string): name is OperationName {
  return Object.hasOwn(athenaModel.operations, name);
}

type AnyHandler = (input: unknown, context: RequestContext) => Promise<unknown>;

export class JsonService<T extends OperationTypeTable<T> = OperationTypes> {
  private readonly model: ServiceModel;
  private readonly decoder: InputDecoder;
  private readonly encoder: OutputEncoder;
  private readonly invalidInput: (message: string) => ServiceError;

  constructor(
    private readonly handlers: ServiceHandlers<NoInfer<T>>,
    /** The error an operation without a handler answers with. */
    private readonly unhandled: (operation: NoInfer<keyof T & string>) => ServiceError,
    private readonly log: Logger,
    options: JsonServiceOptions = {},
  ) {
    this.model = options.model ?? athenaModel;
    this.decoder = new InputDecoder(this.model.shapes);
    this.encoder = new OutputEncoder(this.model.shapes);
    this.invalidInput = options.invalidInput ?? ((message) => new InvalidRequestError(message));
  }

  get targetPrefix(): string {
    return this.model.targetPrefix;
  }

  get signingName(): string {
    return this.model.signingName;
  }

  /** Resolves the operation named by an `X-Amz-Target` header, or throws UnknownOperationException. */
  operationOf(target: string | undefined): keyof T & string {
    const prefix = `${this.model.targetPrefix}.`;
    if (target === undefined || !target.startsWith(prefix)) {
      throw new UnknownOperationError(target === undefined ? 'Missing X-Amz-Target header.' : `Unknown operation ${target}.`);
    }
    const name = target.slice(prefix.length);
    if (!Object.hasOwn(this.model.operations, name)) throw new UnknownOperationError(`Unknown operation ${target}.`);
    return name as keyof T & string;
  }

  /** Runs one request whose target is already resolved. Never throws. */
  async handle(operation: keyof T & string, body: Uint8Array, context: RequestContext): Promise<JsonServiceResponse> {
    try {
      const input = this.decodeInput(operation, body);
      const handler = this.handlers[operation] as AnyHandler | undefined;
      if (!handler) throw this.unhandled(operation);
      const output = await handler(input, context);
      const outputShape = this.model.operations[operation]!.output;
      return { status: 200, body: outputShape === null ? '{}' : this.encoder.encodeJson(outputShape, output) };
    } catch (error) {
      if (error instanceof ForwardToNode && error.endpoint !== undefined && !context.forwarded) {
        return { status: 0, body: '', forwardTo: error.endpoint };
      }
      return this.errorResponse(error instanceof ForwardToNode ? new InternalServerError(error.message) : error, operation, context);
    }
  }

  /**
   * Runs one operation for a caller inside the server (the Jupyter server): the input is validated by the model
   * as a request body would be, and the handler's typed output is returned; failures throw the service's errors.
   */
  async invoke<Op extends keyof T & string>(operation: Op, input: T[Op]['input'], context: RequestContext): Promise<T[Op]['output']> {
    const decoded = this.decodeInput(operation, new TextEncoder().encode(JSON.stringify(input)));
    const handler = this.handlers[operation] as AnyHandler | undefined;
    if (!handler) throw this.unhandled(operation);
    try {
      return (await handler(decoded, context)) as T[Op]['output'];
    } catch (error) {
      // A session on another node cannot be sent on from here: its caller gets the reason.
      if (error instanceof ForwardToNode) throw new InternalServerError(error.message);
      throw error;
    }
  }

  errorResponse(error: unknown, operation: string | undefined, context: RequestContext): JsonServiceResponse {
    let serviceError: ServiceError;
    if (error instanceof ServiceError) {
      serviceError = error;
    } else {
      this.log.error({ err: error, operation, requestId: context.requestId }, 'operation failed');
      serviceError = new InternalServerError();
    }
    return { status: serviceError.status, body: JSON.stringify(serviceError.body()), errorType: serviceError.type };
  }

  private decodeInput(operation: string, body: Uint8Array): unknown {
    const inputShape = this.model.operations[operation]!.input;
    let parsed: unknown = {};
    // An empty body stands for an input with no members (awsJson1_1).
    if (body.length > 0) {
      let text: string;
      try {
        text = utf8.decode(body);
      } catch {
        throw new SerializationError('The request body is not valid UTF-8.');
      }
      if (text.trim() !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new SerializationError('The request body is not valid JSON.');
        }
      }
    }
    if (inputShape === null) return {};
    const { value, violations } = this.decoder.decode(inputShape, parsed);
    if (violations.length > 0) throw this.invalidInput(validationMessage(violations));
    return value;
  }
}
