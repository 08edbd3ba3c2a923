namespace Podmon.Tracing.Grpc;

/// <summary>
/// The outcome of a gRPC call as the server's trailers state it (grpc-status, grpc-message), and
/// which codes OTLP says to retry (opentelemetry-proto's OTLP specification, "Failures"):
/// CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS. RESOURCE_EXHAUSTED
/// is retryable only with RetryInfo, which this client does not read, so it is not retried.
/// </summary>
public readonly record struct GrpcStatus(int Code, string? Message)
{
    public const int Ok = 0, Cancelled = 1, Unknown = 2, InvalidArgument = 3, DeadlineExceeded = 4,
        NotFound = 5, AlreadyExists = 6, PermissionDenied = 7, ResourceExhausted = 8, FailedPrecondition = 9,
        Aborted = 10, OutOfRange = 11, Unimplemented = 12, Internal = 13, Unavailable = 14, DataLoss = 15,
        Unauthenticated = 16;

    public bool IsOk => Code == Ok;

    public bool Retryable => Code is Cancelled or DeadlineExceeded or Aborted or OutOfRange or Unavailable or DataLoss;

    public static string Name(int code) => code switch
    {
        Ok => "OK", Cancelled => "CANCELLED", Unknown => "UNKNOWN", InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED", NotFound => "NOT_FOUND", AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED", ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION", Aborted => "ABORTED", OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED", Internal => "INTERNAL", Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS", Unauthenticated => "UNAUTHENTICATED", _ => $"code {code}",
    };

    public override string ToString() =>
        Message is { Length: > 0 } m ? $"grpc-status {Code} {Name(Code)}: {m}" : $"grpc-status {Code} {Name(Code)}";
}
