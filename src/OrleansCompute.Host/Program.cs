using OrleansCompute.Host;

await MarketHost.Build(args).RunAsync();
