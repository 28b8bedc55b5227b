"""The PixelFlow error tree.

    PixelFlowError                      code, status, message   (itself: internal_error, 500: a bug)
    ├── InvariantBroken                 internal_error          500   state that cannot happen did: a bug
    ├── StepTimedOut                    time_limit_exceeded     500
    ├── WorkerLost                      worker_lost             500   a worker died on every delivery (relay)
    ├── Stuck                           stuck                   500   no progress past the sweeper's re-drives
    ├── InvalidRequest                  validation_error        422   a job the deployment's rules refuse
    ├── JobNotEnded                     job_not_ended           409   purging a job still queued or processing
    ├── IdempotencyConflict             idempotency_conflict    409
    ├── IdempotencyKeyReused            idempotency_key_reused  422
    ├── TooManyWebhookSecrets           too_many_webhook_secrets 409
    ├── PermanentError                  bad input: the job fails at once, never retried
    │   ├── SourceNotFound              source_not_found        422
    │   ├── TooManyRedirects            too_many_redirects      422
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
        ├── StorageUnavailable          storage_unavailable     503   ┐ the service's own peers: past the
        ├── DatabaseUnavailable         database_unavailable    503   │ last retry the job fails and the
        ├── BrokerUnavailable           broker_unavailable      503   ┘ step goes to the dead-letter queue
        ├── SourceUnavailable           source_unavailable      502   ┐ a peer the client named: past the
        └── WebhookUnavailable          webhook_unavailable     502   ┘ last retry, only the job records it

Adapters translate foreign exceptions into these; nothing else escapes them.
A step that crashes (a bug, ``internal_error``) goes to the dead-letter queue
as well: what is there is what an operator can act on, then replay.
``code`` is stable and documented in the README; ``message`` is for people.
"""

from __future__ import annotations


class PixelFlowError(Exception):
    code = "internal_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvariantBroken(PixelFlowError):
    """State PixelFlow itself rules out was found (a step's precondition, say): a bug, dead-lettered."""

    code = "internal_error"


class StepTimedOut(PixelFlowError):
    code = "time_limit_exceeded"


class WorkerLost(PixelFlowError):
    code = "worker_lost"


class Stuck(PixelFlowError):
    code = "stuck"


class InvalidRequest(PixelFlowError):
    """A request the API refuses before anything is queued (core/submission.py's rules); ``errors`` by field."""

    code = "validation_error"
    status = 422

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors


class JobNotEnded(PixelFlowError):
    """A request that needs an ended job (DELETE /v1/jobs/{id}: cancel it first)."""

    code = "job_not_ended"
    status = 409


class IdempotencyConflict(PixelFlowError):
    code = "idempotency_conflict"
    status = 409


class IdempotencyKeyReused(PixelFlowError):
    code = "idempotency_key_reused"
    status = 422


class TooManyWebhookSecrets(PixelFlowError):
    code = "too_many_webhook_secrets"
    status = 409


class PermanentError(PixelFlowError):
    status = 422


class TransientError(PixelFlowError):
    status = 503
    # A peer the client named (its URL source, its webhook): giving up on it is the client's news, recorded on
    # the job, not an operator's (no dead letter).
    client_peer = False


class SourceNotFound(PermanentError):
    code = "source_not_found"


class TooManyRedirects(PermanentError):
    code = "too_many_redirects"


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
    client_peer = True


class WebhookUnavailable(TransientError):
    code = "webhook_unavailable"
    status = 502
    client_peer = True
