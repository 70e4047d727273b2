using Superalign.Data;
using TorchSharp;
using Superalign.Experiments.Tasks;
using static TorchSharp.torch;

namespace Superalign.Experiments.Protocols;

/// <summary>
/// What every protocol on the built-in representation task starts from: the task on the options' device, a dispose
/// scope for the run's tensors, and the training and test sets, drawn from the task's sample streams 1 and 2 so that
/// every protocol on the same task options trains and tests on the same examples.
/// Disposing it frees the run's tensors, then the task and its trunks.
/// </summary>
internal sealed class RepresentationRun : IDisposable
{
    private readonly DisposeScope _scope;

    public RepresentationRun(RepresentationTaskOptions options, string device, int trainSize, int testSize)
    {
        Device = Devices.Parse(device);
        Task = new RepresentationTask(options, Device);
        _scope = NewDisposeScope();
        (Train, Test) = (Task.Sample(trainSize, 1), Task.Sample(testSize, 2));
    }

    public Device Device { get; }

    public RepresentationTask Task { get; }

    public ClassificationTable Train { get; }

    public ClassificationTable Test { get; }

    public void Dispose()
    {
        _scope.Dispose();
        Task.Dispose();
    }
}
