pub async fn demo(_p: u16, _a: u16) -> anyhow::Result<std::process::ExitCode> { todo!() }
