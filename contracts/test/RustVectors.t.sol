// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {ReportEncoder} from "./utils/ReportEncoder.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @notice Cross-checks the Rust service's `report` module (src/report/vectors.rs) with the contract: the same
/// reports, domain and key give the same digests on both sides, and the contract accepts the signatures the Rust
/// code made. The constants below are copied from the Rust test; if either side changes its encoding, one of the two
/// tests fails.
contract RustVectorsTest is TestBase {
    /// @dev Anvil's first development account; its first deployment lands at CONTRACT (CREATE with nonce 0).
    address internal constant DEPLOYER = 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266;
    address internal constant CONTRACT = 0x5FbDB2315678afecb367f032d93F642f64180aa3;
    uint256 internal constant CHAIN_ID = 31_337;

    /// @dev The address of the Rust vectors' test key.
    address internal constant SIGNER = 0x3647344CDeF7811A4f1Ee66C170FEd375858f454;
    bytes32 internal constant DECISION = 0x5f2c0b7e8d1a4c3b6e9f0a2d4c6b8e1f3a5c7e9b0d2f4a6c8e0b2d4f6a8c0e2d;

    bytes32 internal constant DOMAIN_SEPARATOR = 0xeea01dfbd3abc00f9f240b87073895cba158db88b2b87f17abec028a6914bf71;
    bytes32 internal constant POOL_DIGEST = 0x413a183195cb70def95f62ebeb5aa3af8e42f1807faaacdaed682881f562d0d1;
    bytes32 internal constant SIGNER_DIGEST = 0x4a15b4e060b8813625b5707d1f4dc898e8a3fe14399b83f2cd07f9cd0c79eb51;
    bytes internal constant POOL_SIGNATURE =
        hex"9f3245d723b36e5c1c4ea9de87af5a7b9305aaaba8b097b1cc4c1e448474db375b0ba7f8cea447a02221952d231113ace0e8daef3aeda3268da7df6bcef05a0c1b";
    bytes32 internal constant ODD_POOL_DIGEST = 0x6b843b082ea8365f69d43b62918a6ca8f9d426efaa520e180137708310402682;
    bytes internal constant ODD_POOL_SIGNATURE =
        hex"e6c301c1c7093a84ffb3b2b4ee8ba6df81958684b6e19b721e2192d7bc573f4973554c9c6bee3c60cb2ec669de4bfca7e4af685a2ae0d24855ee42739ec24cc61c";
    bytes32 internal constant ODD_POOL_ROOT = 0xb022fc35c9c58cb701ac1e116e46f776c6129e2dc3e22abc0b0689ec88aef39a;
    bytes32 internal constant CAROL_LEAF = 0x8ba65aec8efdbf7e42f144e257428d758581bfff5ace8c04f9614ca95cfe408f;
    bytes32 internal constant CAROL_PROOF = 0x3b915ca2e961eaa9dc6135abd17ad26fb66b9c08e404bb1f9d2597ae29fe5b3f;
    bytes internal constant SIGNER_SIGNATURE =
        hex"734b11e1c39de1fc90d8f0cb3c9fd5965753d585e81e84dccaa81e2d7d57f9216e0326a8fbbd5982950c4f844b31437296be47f519bc30bf58f0367bfe14230f1c";

    RevShare internal revShare;

    function setUp() public {
        vm.chainId(CHAIN_ID);
        vm.warp(1_700_000_200);
        address[] memory signers = new address[](1);
        signers[0] = SIGNER;
        vm.prank(DEPLOYER);
        revShare = new RevShare(signers, 1);
    }

    function poolReport() internal pure returns (RevShare.PoolReport memory report) {
        RevShare.Entry[] memory entries = new RevShare.Entry[](2);
        entries[0] = RevShare.Entry("https://ilp.example.com/alice", 50, address(0xA11cE));
        entries[1] = RevShare.Entry("https://wallet.example.org/bob", 30, address(0));
        report = RevShare.PoolReport({
            community: keccak256("example-community"),
            pool: keccak256("default"),
            seq: 1,
            prevHash: bytes32(0),
            entries: entries,
            decisionHash: DECISION,
            policyVersion: 3,
            observedAt: 1_700_000_000,
            validFrom: 1_700_000_000,
            validUntil: 1_700_086_400
        });
    }

    /// @dev The Rust vectors' second pool report: three entries, so that the last leaf rises alone once.
    function oddPoolReport() internal pure returns (RevShare.PoolReport memory report) {
        RevShare.Entry[] memory entries = new RevShare.Entry[](3);
        entries[0] = RevShare.Entry("https://ilp.example.com/alice", 50, address(0xA11cE));
        entries[1] = RevShare.Entry("https://wallet.example.org/bob", 30, address(0));
        entries[2] = RevShare.Entry("https://ilp.example.net/carol/main", 20, address(0xCA401));
        report = RevShare.PoolReport({
            community: keccak256("example-community"),
            pool: keccak256("odd"),
            seq: 1,
            prevHash: bytes32(0),
            entries: entries,
            decisionHash: DECISION,
            policyVersion: 3,
            observedAt: 1_700_000_000,
            validFrom: 1_700_000_000,
            validUntil: 1_700_086_400
        });
    }

    function test_entryTreeOfThreeEntriesEqualsRusts() public {
        RevShare.PoolReport memory report = oddPoolReport();
        assertEq(revShare.submitPoolReport(report, ODD_POOL_SIGNATURE), ODD_POOL_DIGEST, "applied digest");
        (bytes32 root,,) = revShare.poolCommitment(report.community, report.pool);
        assertEq(root, ODD_POOL_ROOT, "root");
        RevShare.EntryLeaf memory carol = RevShare.EntryLeaf({
            walletHash: keccak256("https://ilp.example.net/carol/main"), weight: 20, payee: address(0xCA401), before: 80
        });
        assertEq(revShare.leafOf(carol), CAROL_LEAF, "carol's leaf");
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = CAROL_PROOF;
        (address payee,) = revShare.pick(report.community, report.pool, 85, carol, proof);
        assertEq(payee, address(0xCA401), "the Rust proof picks carol at target 85");
    }

    function signerReport() internal pure returns (RevShare.SignerReport memory report) {
        address[] memory signers = new address[](3);
        signers[0] = SIGNER;
        signers[1] = 0x2222222222222222222222222222222222222222;
        signers[2] = 0x3333333333333333333333333333333333333333;
        report = RevShare.SignerReport({
            seq: 1,
            prevHash: bytes32(0),
            signers: signers,
            threshold: 2,
            observedAt: 1_700_000_100,
            validFrom: 1_700_000_100,
            validUntil: 1_700_086_500
        });
    }

    function test_deploysAtTheVectorsDomain() public view {
        assertEq(address(revShare), CONTRACT, "contract address");
        assertEq(block.chainid, CHAIN_ID, "chain id");
    }

    function test_domainSeparatorEqualsRusts() public view {
        assertEq(revShare.domainSeparator(), DOMAIN_SEPARATOR, "domain separator");
        assertEq(ReportEncoder.domainSeparator(CHAIN_ID, CONTRACT), DOMAIN_SEPARATOR, "encoder's domain separator");
    }

    function test_poolReportDigestEqualsRusts() public view {
        assertEq(revShare.hashPoolReport(poolReport()), POOL_DIGEST, "pool report digest");
        assertEq(
            ReportEncoder.poolReportDigest(poolReport(), CHAIN_ID, CONTRACT),
            POOL_DIGEST,
            "encoder's pool report digest"
        );
    }

    function test_signerReportDigestEqualsRusts() public view {
        assertEq(revShare.hashSignerReport(signerReport()), SIGNER_DIGEST, "signer report digest");
        assertEq(
            ReportEncoder.signerReportDigest(signerReport(), CHAIN_ID, CONTRACT),
            SIGNER_DIGEST,
            "encoder's signer report digest"
        );
    }

    function test_acceptsRustSignedPoolReport() public {
        bytes32 digest = revShare.submitPoolReport(poolReport(), POOL_SIGNATURE);
        assertEq(digest, POOL_DIGEST, "applied digest");
        (uint64 version, bytes32 lastDigest) = revShare.poolHead(keccak256("example-community"), keccak256("default"));
        assertEq(version, 1, "pool version");
        assertEq(lastDigest, POOL_DIGEST, "pool last digest");
        (, uint256 totalWeight, uint256 payeeWeight) =
            revShare.poolCommitment(keccak256("example-community"), keccak256("default"));
        assertEq(totalWeight, 80, "total weight");
        assertEq(payeeWeight, 50, "payee weight: the first entry's");
    }

    function test_acceptsRustSignedSignerReport() public {
        bytes32 digest = revShare.submitSignerReport(signerReport(), SIGNER_SIGNATURE);
        assertEq(digest, SIGNER_DIGEST, "applied digest");
        (address[] memory signers, uint8 threshold, uint64 epoch) = revShare.signerSet();
        assertEq(signers.length, 3, "signer count");
        assertEq(signers[0], SIGNER, "first signer");
        assertEq(threshold, 2, "threshold");
        assertEq(epoch, 2, "epoch");
    }

    function test_refusesRustSignatureOnAnotherChain() public {
        vm.chainId(1);
        RevShare.PoolReport memory report = poolReport();
        bytes32 digest = revShare.hashPoolReport(report);
        address recovered = ecrecoverOf(digest, POOL_SIGNATURE);
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, recovered));
        revShare.submitPoolReport(report, POOL_SIGNATURE);
    }

    function ecrecoverOf(bytes32 digest, bytes memory sig) internal pure returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        return ecrecover(digest, v, r, s);
    }
}
