namespace Superalign.Optimization;

/// <summary>Thrown when a loss or gradient is NaN or infinite; the parameters are left as they were before the step.</summary>
public sealed class NonFiniteLossException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteLossException(long step, TrainingPhase phase, string what, double value)
        : base($"Non-finite {what} ({value}) at step {step} ({phase} phase); the update was skipped and the parameters are unchanged.")
    {
        Step = step;
        Phase = phase;
        What = what;
        Value = value;
    }

    /// <summary>The update index.</summary>
    public long Step { get; }

    /// <summary>The phase of the step.</summary>
    public TrainingPhase Phase { get; }

    /// <summary>What was non-finite (e.g. "competence loss", "gradient norm").</summary>
    public string What { get; }

    /// <summary>The offending value.</summary>
    public double Value { get; }
}
