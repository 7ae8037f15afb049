//! Maps NDJSON Directory Insights events from stdin to OCSF NDJSON on stdout (no CLI niceties;
//! the real command is `jumpcloud-ocsf map`). Rejected lines go to stderr.

use std::io::{BufRead, Write};

fn main() {
    let mapper = mapper::Mapper::default();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut buffer = Vec::new();
    for (index, line) in stdin.lock().split(b'\n').enumerate() {
        let Ok(line) = line else { break };
        if line.trim_ascii().is_empty() {
            continue;
        }
        buffer.clear();
        match mapper.map_into(&line, &mut buffer) {
            Ok(_) => {
                buffer.push(b'\n');
                if stdout.write_all(&buffer).is_err() {
                    break;
                }
            }
            Err(error) => eprintln!("{}: {error}", index + 1),
        }
    }
}
