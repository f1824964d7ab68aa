// Glue's modelled errors, in the envelope every AWS JSON 1.1 service answers with (`__type` and `Message`), HTTP
// 400. The wording follows the real service as clients report it:
// - "Database <name> not found." / "Table <name> not found." (EntityNotFoundException; AWS SDK error reports,
//   and moto's Glue backend, which mirrors them),
// - "<Entity> already exists." (AlreadyExistsException; the same sources),
// - "Update table failed due to concurrent modifications." (ConcurrentModificationException, Iceberg's
//   GlueCatalog reports it from UpdateTable with a stale VersionId: apache/iceberg issue 8636).
import { ServiceError } from '../protocol/errors.js';

export class EntityNotFoundError extends ServiceError {
  constructor(message: string) {
    super('EntityNotFoundException', message, 400);
  }
}

export class AlreadyExistsError extends ServiceError {
  constructor(message: string) {
    super('AlreadyExistsException', message, 400);
  }
}

export class InvalidInputError extends ServiceError {
  constructor(message: string) {
    super('InvalidInputException', message, 400);
  }
}

export class ConcurrentModificationError extends ServiceError {
  constructor(message = 'Update table failed due to concurrent modifications.') {
    super('ConcurrentModificationException', message, 400);
  }
}

export class OperationNotSupportedError extends ServiceError {
  constructor(message: string) {
    super('OperationNotSupportedException', message, 400);
  }
}

export class InternalServiceError extends ServiceError {
  constructor(message = 'An internal service error occurred. Try the request again later.') {
    super('InternalServiceException', message, 500);
  }
}
