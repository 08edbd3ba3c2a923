namespace Podmon.Sys;

/// <summary>Told of the completion of an operation submitted with the key <see cref="IoUring.Register"/> gave it.</summary>
public interface ICompletionHandler
{
    /// <param name="res">The result: bytes, 0, or a negated errno.</param>
    /// <param name="flags">IORING_CQE_F_*; with F_BUFFER the upper 16 bits are the provided buffer's id.</param>
    void OnCompletion(int res, uint flags);
}
