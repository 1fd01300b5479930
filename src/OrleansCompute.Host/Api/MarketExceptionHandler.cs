using Microsoft.AspNetCore.Diagnostics;
using OrleansCompute.Abstractions;

namespace OrleansCompute.Host.Api;

/// <summary>Turns a grain's <see cref="MarketException"/> into a problem document naming the field and the reason.</summary>
public sealed class MarketExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not MarketException rejected) return false;

        var status = rejected.Error switch
        {
            MarketError.InvalidRequest => StatusCodes.Status400BadRequest,
            MarketError.NotFound => StatusCodes.Status404NotFound,
            MarketError.NotYourLease => StatusCodes.Status403Forbidden,
            MarketError.InsufficientFunds => StatusCodes.Status402PaymentRequired,
            _ => StatusCodes.Status409Conflict,
        };
        return await problems.WriteAsync(context, exception, status, rejected.Reason, rejected.Message, rejected.Field);
    }
}
