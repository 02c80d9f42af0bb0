// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";

/// @notice Drives RevShare with valid reports, stale reports, rotations, fundings and withdrawals, keeping the
/// ghost counts the invariants compare against.
contract RevShareHandler is RevShareFixture {
    uint256 internal constant POOL_COUNT = 2;
    uint256 internal constant PAYEE_COUNT = 3;

    uint256[] internal currentKeys;
    uint256 public rotations;
    uint256 public totalFunded;
    uint256 public totalWithdrawn;
    uint256 public staleAccepted;
    mapping(uint256 poolIndex => uint256 count) public accepted;

    constructor(RevShare target, uint256[] memory keys) {
        revShare = target;
        currentKeys = keys;
    }

    function poolId(uint256 index) public pure returns (bytes32) {
        return keccak256(abi.encode("invariant pool", index % POOL_COUNT));
    }

    function payee(uint256 index) public pure returns (address) {
        return address(uint160(0xBEE0 + index % PAYEE_COUNT));
    }

    function currentSignatures(bytes32 digest) internal view returns (bytes memory) {
        (, uint8 threshold,) = revShare.signerSet();
        return signSorted(firstKeys(currentKeys, threshold), digest);
    }

    function submitPoolReport(uint256 poolSeed, uint256 entrySeed) external {
        uint256 index = poolSeed % POOL_COUNT;
        bytes32 pool = poolId(index);
        uint256 count = entrySeed % 4; // 0 to 3 entries
        RevShare.Entry[] memory entries = new RevShare.Entry[](count);
        for (uint256 i; i < count; ++i) {
            uint256 raw = uint256(keccak256(abi.encode(entrySeed, i)));
            address to = raw % 4 == 0 ? address(0) : payee(raw >> 8);
            entries[i] = RevShare.Entry("https://ilp.example.com/inv", uint96(bound(raw >> 16, 1, 1000)), to);
        }
        (uint64 version, bytes32 last) = revShare.poolHead(COMMUNITY, pool);
        RevShare.PoolReport memory report = poolReport(COMMUNITY, pool, version + 1, last, entries);
        revShare.submitPoolReport(report, currentSignatures(digestOf(report)));
        ++accepted[index];
    }

    function submitStaleReport(uint256 poolSeed, bool replay) external {
        bytes32 pool = poolId(poolSeed);
        (uint64 version, bytes32 last) = revShare.poolHead(COMMUNITY, pool);
        uint64 seq = replay ? version : version + 2;
        RevShare.PoolReport memory report = poolReport(COMMUNITY, pool, seq, last, sampleEntries());
        try revShare.submitPoolReport(report, currentSignatures(digestOf(report))) {
            ++staleAccepted;
        } catch {}
    }

    function rotate(uint256 from, uint256 size, uint256 threshold) external {
        size = bound(size, 1, 6);
        threshold = bound(threshold, 1, size);
        uint256[] memory next = keyRange(bound(from, 0, 20), size);
        (uint64 seq, bytes32 last) = revShare.signerHead();
        RevShare.SignerReport memory report = signerReport(seq + 1, last, addressesOf(next), uint8(threshold));
        revShare.submitSignerReport(report, currentSignatures(digestOf(report)));
        currentKeys = next;
        ++rotations;
    }

    function fund(uint256 poolSeed, uint256 amount) external {
        bytes32 pool = poolId(poolSeed);
        RevShare.Entry[] memory entries = revShare.poolEntries(COMMUNITY, pool);
        bool hasPayee;
        for (uint256 i; i < entries.length; ++i) {
            if (entries[i].payee != address(0)) hasPayee = true;
        }
        if (!hasPayee) return;
        amount = bound(amount, 1, 10 ether);
        vm.deal(address(this), amount);
        (, bytes32 pin) = revShare.poolHead(COMMUNITY, pool);
        revShare.fund{value: amount}(COMMUNITY, pool, pin);
        totalFunded += amount;
    }

    function withdraw(uint256 payeeSeed) external {
        address who = payee(payeeSeed);
        if (revShare.balanceOf(who) == 0) return;
        vm.prank(who);
        totalWithdrawn += revShare.withdraw();
    }
}

/// @notice Invariants of RevShare under any sequence of the handler's actions.
contract RevShareInvariantTest is RevShareFixture {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    RevShareHandler internal handler;

    function setUp() public {
        vm.warp(START);
        uint256[] memory keys = keyRange(0, 3);
        revShare = deploy(keys, 2);
        handler = new RevShareHandler(revShare, keys);
    }

    /// @dev Read by forge: fuzz only the handler, never RevShare directly.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev Read by forge: the handler's actions (not its view helpers).
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = RevShareHandler.submitPoolReport.selector;
        selectors[1] = RevShareHandler.submitStaleReport.selector;
        selectors[2] = RevShareHandler.rotate.selector;
        selectors[3] = RevShareHandler.fund.selector;
        selectors[4] = RevShareHandler.withdraw.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    function invariant_poolVersionEqualsAcceptedReports() public view {
        for (uint256 i; i < 2; ++i) {
            (uint64 version,) = revShare.poolHead(COMMUNITY, handler.poolId(i));
            assertEq(version, handler.accepted(i), "pool version vs accepted reports");
        }
    }

    function invariant_staleReportsAreNeverAccepted() public view {
        assertEq(handler.staleAccepted(), 0, "stale reports accepted");
    }

    function invariant_creditedPlusDustEqualsFunded() public view {
        uint256 held;
        for (uint256 i; i < 3; ++i) {
            held += revShare.balanceOf(handler.payee(i));
        }
        for (uint256 i; i < 2; ++i) {
            (, uint256 dust) = revShare.poolTotals(COMMUNITY, handler.poolId(i));
            held += dust;
        }
        assertEq(held + handler.totalWithdrawn(), handler.totalFunded(), "credited + dust + withdrawn vs funded");
        assertEq(address(revShare).balance, held, "contract ETH vs credited + dust");
    }

    function invariant_signerSetIsAlwaysValid() public view {
        (address[] memory signers, uint8 threshold, uint64 epoch) = revShare.signerSet();
        assertTrue(signers.length >= 1 && signers.length <= 32, "signer count within 1..32");
        assertTrue(threshold >= 1 && threshold <= signers.length, "threshold within 1..signer count");
        assertEq(epoch, 1 + handler.rotations(), "epoch vs rotations");
    }
}
