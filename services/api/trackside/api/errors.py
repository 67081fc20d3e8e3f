"""API errors: each carries the ClearML (result_code, result_subcode) pair that clients look at.

Raise one of the classes below from a handler; the dispatcher turns it into the error envelope with
``data: {}``. Codes follow the reference server's error table.
"""
from __future__ import annotations


class APIError(Exception):
    code = 500
    subcode = 0
    default_message = "general server error"

    def __init__(self, message: str | None = None, **error_data):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.error_data = error_data


def _error(name: str, code: int, subcode: int, message: str) -> type[APIError]:
    return type(name, (APIError,), {"code": code, "subcode": subcode, "default_message": message})


# 301: an endpoint that later API versions no longer serve (the reference's moved_permanently)
NotSupportedForVersion = _error("NotSupportedForVersion", 301, 1,
                                "this endpoint is no longer supported for the requested API version")

# 400: bad request
NotSupported = _error("NotSupported", 400, 1, "endpoint is not supported")
InvalidVersion = _error("InvalidVersion", 400, 2, "request path has invalid version")
InvalidHeaders = _error("InvalidHeaders", 400, 5, "invalid headers")
InvalidId = _error("InvalidId", 400, 10, "invalid object id")
MissingRequiredFields = _error("MissingRequiredFields", 400, 11, "missing required fields")
ValidationError = _error("ValidationError", 400, 12, "validation error")
FieldsValueError = _error("FieldsValueError", 400, 16, "invalid value for fields")
BatchContainsNoItems = _error("BatchContainsNoItems", 400, 17, "batch request contains no items")
FieldsTypeError = _error("FieldsTypeError", 400, 20, "invalid type for fields")
InvalidRegex = _error("InvalidRegex", 400, 21, "malformed regular expression")
InvalidAccessKey = _error("InvalidAccessKey", 400, 75, "access key not found")

InvalidTaskId = _error("InvalidTaskId", 400, 101, "invalid task id")
InvalidTaskStatus = _error("InvalidTaskStatus", 400, 110, "invalid task status")
TaskPublished = _error("TaskPublished", 400, 113, "task published (invalid task status)")
MissingTaskFields = _error("MissingTaskFields", 400, 122, "task is missing expected fields")
FailedChangingTaskStatus = _error(
    "FailedChangingTaskStatus", 400, 121, "failed changing task status. probably someone changed it before you"
)
TaskCannotBeDeleted = _error("TaskCannotBeDeleted", 400, 123, "task cannot be deleted")

EventsNotAdded = _error("EventsNotAdded", 400, 131, "events not added")
OperationSupportedOnReportsOnly = _error("OperationSupportedOnReportsOnly", 400, 150, "operation supported on reports only")
CannotRemoveAllRuns = _error("CannotRemoveAllRuns", 400, 160, "cannot remove all the runs of a pipeline")

InvalidModelId = _error("InvalidModelId", 400, 201, "invalid model id")
ModelNotReady = _error("ModelNotReady", 400, 202, "model is not ready")
ModelIsReady = _error("ModelIsReady", 400, 203, "model is ready")
ModelInUse = _error("ModelInUse", 400, 205, "model is used by tasks")
ModelCreatingTaskExists = _error("ModelCreatingTaskExists", 400, 206, "task that created this model exists")

InvalidUser = _error("InvalidUser", 400, 300, "invalid user")
InvalidUserId = _error("InvalidUserId", 400, 301, "invalid user id")
UserIdExists = _error("UserIdExists", 400, 302, "user id already exists")
InvalidPreferencesUpdate = _error("InvalidPreferencesUpdate", 400, 305, "Malformed key and/or value")

InvalidProjectId = _error("InvalidProjectId", 400, 401, "invalid project id")
ProjectHasTasks = _error("ProjectHasTasks", 400, 402, "project has associated tasks")
ProjectHasModels = _error("ProjectHasModels", 400, 405, "project has associated models")
InvalidProjectName = _error("InvalidProjectName", 400, 407, "invalid project name")
CannotUpdateProjectLocation = _error(
    "CannotUpdateProjectLocation", 400, 408, "Cannot update project location. Use projects.move instead"
)
ProjectPathExceedsMax = _error("ProjectPathExceedsMax", 400, 409, "Project path exceed the maximum allowed depth")
ProjectSourceAndDestinationAreTheSame = _error(
    "ProjectSourceAndDestinationAreTheSame", 400, 410, "Project has the same source and destination paths"
)
ProjectCannotBeMovedUnderItself = _error(
    "ProjectCannotBeMovedUnderItself", 400, 411, "Project can not be moved under itself in the projects hierarchy"
)
ProjectCannotBeMergedIntoItsChild = _error(
    "ProjectCannotBeMergedIntoItsChild", 400, 412, "Project can not be merged into its own child"
)

InvalidQueueId = _error("InvalidQueueId", 400, 701, "invalid queue id")
QueueNotEmpty = _error("QueueNotEmpty", 400, 702, "queue is not empty")
InvalidQueueOrTaskNotQueued = _error("InvalidQueueOrTaskNotQueued", 400, 703, "invalid queue id or task not in queue")
TaskAlreadyQueued = _error("TaskAlreadyQueued", 400, 706, "failed adding task to queue since task is already queued")
NoDefaultQueue = _error("NoDefaultQueue", 400, 707, "no queue is tagged as the default queue for this company")
MultipleDefaultQueues = _error(
    "MultipleDefaultQueues", 400, 708, "more than one queue is tagged as the default queue for this company"
)

DataValidationError = _error("DataValidationError", 400, 800, "data validation error")
ExpectedUniqueData = _error(
    "ExpectedUniqueData", 400, 801, "value combination already exists (unique field already contains this value)"
)

InvalidWorkerId = _error("InvalidWorkerId", 400, 1001, "invalid worker id")
InvalidScrollId = _error("InvalidScrollId", 400, 1104, "Invalid scroll id")
WorkerRegistrationFailed = _error("WorkerRegistrationFailed", 400, 1002, "worker registration failed")
WorkerStatsNotFound = _error("WorkerStatsNotFound", 400, 1005, "worker stats not found")
ContainerNotRegistered = _error("ContainerNotRegistered", 400, 1051, "container is not registered")
NoContainersForUrl = _error("NoContainersForUrl", 400, 1052, "no container instances found for service url")

# 401: unauthorized
NotAuthorized = _error("NotAuthorized", 401, 1, "unauthorized (not authorized for endpoint)")
BadAuthType = _error("BadAuthType", 401, 10, "unauthorized (bad authentication header type)")
MissingCredentials = _error("MissingCredentials", 401, 20, "unauthorized (missing credentials)")
BadCredentials = _error("BadCredentials", 401, 21, "unauthorized (malformed credentials)")
InvalidCredentials = _error("InvalidCredentials", 401, 22, "unauthorized (invalid credentials)")
InvalidToken = _error("InvalidToken", 401, 30, "invalid token")

# 403: forbidden
RoleNotAllowed = _error("RoleNotAllowed", 403, 20, "forbidden (not allowed for role)")
NoWritePermission = _error("NoWritePermission", 403, 21, "forbidden (modification not allowed)")

# 404
EndpointNotFound = _error("EndpointNotFound", 404, 0, "endpoint not found")

# 429: not in the reference's table; the sign-in throttle's answer, with a Retry-After header
TooManyFailedLogins = _error("TooManyFailedLogins", 429, 1, "too many failed sign-in attempts")

# 500
InternalError = _error("InternalError", 500, 1, "internal server error")
DataError = _error("DataError", 500, 100, "general data error")
DatabaseUnavailable = _error("DatabaseUnavailable", 500, 102, "database is temporarily unavailable")

# 503: a store (MongoDB, Redis) cannot be reached. The reference's subcode for it, but the status that clients
# and proxies retry (the clearml SDK retries 502/503/429, never 500): the request may be sent again as it is.
StoreUnavailable = _error("StoreUnavailable", 503, 102, "a data store is temporarily unavailable, retry later")
