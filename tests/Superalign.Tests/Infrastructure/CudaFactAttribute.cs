using TorchSharp;
using Xunit;

namespace Superalign.Tests.Infrastructure;

/// <summary>A fact that runs only where CUDA is available, and is skipped with the reason otherwise.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!torch.cuda.is_available())
            Skip = "No CUDA device: TorchSharp's CUDA backend and a GPU are needed (run on a GPU machine with the libtorch-cuda backend).";
    }
}
