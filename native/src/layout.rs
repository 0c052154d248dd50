//! Where a certificate's files go (certbot's layout or explicit paths), what each holds, and
//! how they stand on disk now.

use std::io;
use std::path::{Path, PathBuf};

use certpull_core::pem;
use certpull_core::pki_types::CertificateDer;
use certpull_core::policy::{InstalledFiles, Slot};

use crate::cli::FileArgs;
use crate::exit::{Class, CliError, Result};

/// The files of one certificate; any may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    /// The leaf.
    pub cert: Option<PathBuf>,
    /// The intermediates, as sent.
    pub chain: Option<PathBuf>,
    /// The leaf followed by the intermediates.
    pub fullchain: Option<PathBuf>,
}

/// The current contents of the managed files (`None`: the file does not exist).
#[derive(Debug, Default)]
pub struct OnDisk {
    cert: Option<Vec<u8>>,
    chain: Option<Vec<u8>>,
    fullchain: Option<Vec<u8>>,
}

impl Outputs {
    /// `--out-dir DIR` gives `DIR/{cert,chain,fullchain}.pem`; an explicit path overrides its
    /// counterpart.
    pub fn new(
        out_dir: Option<&Path>,
        cert: Option<&Path>,
        chain: Option<&Path>,
        fullchain: Option<&Path>,
    ) -> Self {
        let in_dir = |file: &str| out_dir.map(|dir| dir.join(file));
        Self {
            cert: cert.map(Path::to_path_buf).or_else(|| in_dir("cert.pem")),
            chain: chain.map(Path::to_path_buf).or_else(|| in_dir("chain.pem")),
            fullchain: fullchain
                .map(Path::to_path_buf)
                .or_else(|| in_dir("fullchain.pem")),
        }
    }

    pub fn from_args(args: &FileArgs) -> Self {
        Self::new(
            args.out_dir.as_deref(),
            args.cert.as_deref(),
            args.chain.as_deref(),
            args.fullchain.as_deref(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.paths().next().is_none()
    }

    /// The managed paths, in install order.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        [&self.cert, &self.chain, &self.fullchain]
            .into_iter()
            .flatten()
    }

    /// The directory that stands for the certificate (certbot's "lineage"): the fullchain's,
    /// else the leaf's, else the chain's.
    pub fn lineage(&self) -> PathBuf {
        let file = self
            .fullchain
            .as_ref()
            .or(self.cert.as_ref())
            .or(self.chain.as_ref());
        match file.and_then(|f| f.parent()) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Each managed path with the PEM it must hold for `chain`.
    pub fn contents(&self, chain: &[CertificateDer<'static>]) -> Vec<(PathBuf, String)> {
        let leaf = chain.get(..1).unwrap_or_default();
        let intermediates = chain.get(1..).unwrap_or_default();
        [
            (&self.cert, leaf),
            (&self.chain, intermediates),
            (&self.fullchain, chain),
        ]
        .into_iter()
        .filter_map(|(path, certs)| path.as_ref().map(|p| (p.clone(), pem::encode_chain(certs))))
        .collect()
    }

    /// Reads the managed files as they are now.
    pub fn read(&self) -> Result<OnDisk> {
        let read = |path: &Option<PathBuf>| -> Result<Option<Vec<u8>>> {
            let Some(path) = path else { return Ok(None) };
            match std::fs::read(path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(CliError::new(
                    Class::Write,
                    format!("cannot read installed {}: {e}", path.display()),
                )),
            }
        };
        Ok(OnDisk {
            cert: read(&self.cert)?,
            chain: read(&self.chain)?,
            fullchain: read(&self.fullchain)?,
        })
    }
}

impl OnDisk {
    /// The files in the policy's terms.
    pub fn slots<'a>(&'a self, outputs: &Outputs) -> InstalledFiles<'a> {
        let slot = |managed: &Option<PathBuf>, bytes: &'a Option<Vec<u8>>| match (managed, bytes) {
            (None, _) => Slot::NotManaged,
            (Some(_), None) => Slot::Missing,
            (Some(_), Some(bytes)) => Slot::Present(bytes),
        };
        InstalledFiles {
            cert: slot(&outputs.cert, &self.cert),
            chain: slot(&outputs.chain, &self.chain),
            fullchain: slot(&outputs.fullchain, &self.fullchain),
        }
    }

    /// The old contents of every file that exists, for `--backup`.
    pub fn existing<'a>(&'a self, outputs: &'a Outputs) -> Vec<(&'a Path, &'a [u8])> {
        [
            (&outputs.cert, &self.cert),
            (&outputs.chain, &self.chain),
            (&outputs.fullchain, &self.fullchain),
        ]
        .into_iter()
        .filter_map(|(path, bytes)| Some((path.as_deref()?, bytes.as_deref()?)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_dir_gives_certbot_names_and_explicit_paths_override() {
        let outputs = Outputs::new(
            Some(Path::new("/d")),
            None,
            Some(Path::new("/x/ca.pem")),
            None,
        );
        assert_eq!(outputs.cert.as_deref(), Some(Path::new("/d/cert.pem")));
        assert_eq!(outputs.chain.as_deref(), Some(Path::new("/x/ca.pem")));
        assert_eq!(
            outputs.fullchain.as_deref(),
            Some(Path::new("/d/fullchain.pem"))
        );
        assert_eq!(outputs.lineage(), PathBuf::from("/d"));
    }

    #[test]
    fn no_paths_is_empty() {
        assert!(Outputs::default().is_empty());
        assert!(!Outputs::new(None, None, None, Some(Path::new("f.pem"))).is_empty());
        assert_eq!(
            Outputs::new(None, None, None, Some(Path::new("f.pem"))).lineage(),
            PathBuf::from(".")
        );
    }
}
