namespace OrleansCompute.Abstractions.Accounts;

/// <summary>
/// The signed requests one address (its key) has made that are still within their timestamp window: a signed request
/// is good for that window, so the same one sent again within it is a replay. One grain per address across the
/// cluster, so a replay is caught whichever host it reaches.
/// </summary>
public interface IRequestReplayGuardGrain : IGrainWithStringKey
{
    /// <summary>
    /// True the first time <paramref name="requestId"/> (the digest of what was signed) is seen, and from then on remembered
    /// until <paramref name="staleAt"/>, when its timestamp leaves the window and the request is refused as stale anyway;
    /// false for every later sight of it until then.
    /// </summary>
    Task<bool> FirstSightAsync(Guid requestId, DateTimeOffset staleAt);
}
