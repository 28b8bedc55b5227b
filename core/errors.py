"""The PixelFlow error tree.

    PixelFlowError                      code, status, message
    ├── StepTimedOut                    time_limit_exceeded     500
    ├── IdempotencyConflict             idempotency_conflict    409
    ├── IdempotencyKeyReused            idempotency_key_reused  422
    ├── PermanentError                  bad input: the job fails at once, never retried
    │   ├── SourceNotFound              source_not_found        422
    │   ├── SourceForbidden             source_forbidden        422
    │   ├── SourceTooLarge              source_too_large        422
    │   ├── UnsupportedFormat           unsupported_format      422
    │   ├── ImageTooLarge               image_too_large         422
    │   ├── TooManyFrames               too_many_frames         422
    │   ├── CorruptImage                corrupt_image           422
    │   ├── CropOutOfBounds             crop_out_of_bounds      422
    │   ├── WatermarkNotFound           watermark_not_found     422
    │   └── WebhookRejected             webhook_rejected        422
    └── TransientError                  a peer is down: retried with backoff
        ├── StorageUnavailable          storage_unavailable     503
        ├── DatabaseUnavailable         database_unavailable    503
        ├── BrokerUnavailable           broker_unavailable      503
        ├── SourceUnavailable           source_unavailable      502
        └── WebhookUnavailable          webhook_unavailable     502

Adapters translate foreign exceptions into these; nothing else escapes them.
``code`` is stable and documented in the README; ``message`` is for people.
"""

from __future__ import annotations


class PixelFlowError(Exception):
    code = "internal_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StepTimedOut(PixelFlowError):
    code = "time_limit_exceeded"


class IdempotencyConflict(PixelFlowError):
    code = "idempotency_conflict"
    status = 409


class IdempotencyKeyReused(PixelFlowError):
    code = "idempotency_key_reused"
    status = 422


class TooManyWebhookSecrets(PixelFlowError):
    code = "too_many_webhook_secrets"
    status = 422


class PermanentError(PixelFlowError):
    status = 422


class TransientError(PixelFlowError):
    status = 503


class SourceNotFound(PermanentError):
    code = "source_not_found"


class SourceForbidden(PermanentError):
    code = "source_forbidden"


class SourceTooLarge(PermanentError):
    code = "source_too_large"


class UnsupportedFormat(PermanentError):
    code = "unsupported_format"


class ImageTooLarge(PermanentError):
    code = "image_too_large"


class TooManyFrames(PermanentError):
    code = "too_many_frames"


class CorruptImage(PermanentError):
    code = "corrupt_image"


class CropOutOfBounds(PermanentError):
    code = "crop_out_of_bounds"


class WatermarkNotFound(PermanentError):
    code = "watermark_not_found"


class WebhookRejected(PermanentError):
    code = "webhook_rejected"


class StorageUnavailable(TransientError):
    code = "storage_unavailable"


class DatabaseUnavailable(TransientError):
    code = "database_unavailable"


class BrokerUnavailable(TransientError):
    code = "broker_unavailable"


class SourceUnavailable(TransientError):
    code = "source_unavailable"
    status = 502


class WebhookUnavailable(TransientError):
    code = "webhook_unavailable"
    status = 502
