"""Supply-chain security: CycloneDX SBOM with a licence policy, SM2 signatures of artefacts."""
