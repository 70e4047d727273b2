using TorchSharp;
using Xunit;

namespace Superalign.Tests.Infrastructure;

/// <summary>A fact that runs only where CUDA is available, and is skipped with the reason otherwise.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!torch.cuda.is_available())
            Skip = Reason;
    }

    /// <summary>Why CUDA tests skip.</summary>
    public const string Reason = "No CUDA device: a GPU and TorchSharp's CUDA backend are needed (on a GPU machine: dotnet test -p:SuperalignBackend=cuda).";
}

/// <summary>A theory that runs only where CUDA is available, and is skipped with the reason otherwise.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        if (!torch.cuda.is_available())
            Skip = CudaFactAttribute.Reason;
    }
}
